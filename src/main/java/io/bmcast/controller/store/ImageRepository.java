package io.bmcast.controller.store;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Images, their cached metadata and their boot files. */
public final class ImageRepository {
    private static final String COLUMNS =
            "name, uri, size_bytes, allocated_bytes, extent_count, append, has_kernel, has_initrd, created_at, manifest_sha256";
    /** What a read returns: the columns written at insert, and the boot profile's name and size recorded later. */
    private static final String READ = COLUMNS + ", boot_profile_sha256, boot_profile_bytes";

    /**
     * A boot file's piece as stored and as a download holds it in memory: 64 KiB, so a thousand downloads at once
     * hold 64 MiB between them however large the kernel (and a 40 MiB initrd is 640 rows, each read by key).
     */
    public static final int CHUNK = 64 << 10;

    /** A boot file's kind, as stored and as named in the API path. */
    public enum BootFile { KERNEL, INITRD }

    /**
     * Inserts an image with its extent map ({@code extents}: offset, length pairs) and boot files (null when
     * absent), each read from its stream a chunk at a time; false when the name is taken. (Two adding one name at
     * the same instant: the second fails with a {@link StoreException#isDuplicateKey() duplicate key}.)
     */
    public boolean insert(Tx tx, ImageRow image, long[] extents, InputStream kernel, InputStream initrd) throws SQLException, IOException {
        if (find(tx, image.name()).isPresent()) return false;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO images (" + COLUMNS + ", extents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, image.name());
            ps.setString(2, image.uri());
            ps.setLong(3, image.sizeBytes());
            ps.setLong(4, image.allocatedBytes());
            ps.setInt(5, image.extentCount());
            ps.setString(6, image.append());
            ps.setBoolean(7, kernel != null);
            ps.setBoolean(8, initrd != null);
            ps.setLong(9, image.createdAt());
            ps.setString(10, image.manifestSha256());
            ps.setBytes(11, encode(extents));
            ps.executeUpdate();
        }
        if (kernel != null) putFile(tx, image.name(), BootFile.KERNEL, kernel);
        if (initrd != null) putFile(tx, image.name(), BootFile.INITRD, initrd);
        return true;
    }

    /**
     * Stores {@code content} as chunks of {@link #CHUNK} bytes and the file's row with its SHA-256 and length. One
     * chunk is in memory at a time. An empty file is refused: it boots nothing.
     */
    private static void putFile(Tx tx, String image, BootFile kind, InputStream content) throws SQLException, IOException {
        MessageDigest sha = Sha256.digest();
        long size = 0;
        try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO boot_file_chunks (image, kind, seq, content) VALUES (?, ?, ?, ?)")) {
            byte[] chunk = new byte[CHUNK];
            for (int seq = 0;; seq++) {
                int n = content.readNBytes(chunk, 0, CHUNK);
                if (n == 0) break;
                sha.update(chunk, 0, n);
                size += n;
                ps.setString(1, image);
                ps.setString(2, wire(kind));
                ps.setInt(3, seq);
                ps.setBytes(4, n == CHUNK ? chunk : Arrays.copyOf(chunk, n));
                ps.executeUpdate();
                if (n < CHUNK) break;
            }
        }
        if (size == 0) throw new EmptyFileException(wire(kind));
        try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO image_files (image, kind, sha256, size_bytes) VALUES (?, ?, ?, ?)")) {
            ps.setString(1, image);
            ps.setString(2, wire(kind));
            ps.setString(3, Sha256.hex(sha));
            ps.setLong(4, size);
            ps.executeUpdate();
        }
    }

    /** A boot file of no bytes was given (the transaction is rolled back). */
    public static final class EmptyFileException extends IOException {
        EmptyFileException(String kind) {
            super("the uploaded " + kind + " is empty");
        }
    }

    public Optional<ImageRow> find(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + READ + " FROM images WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(row(rs)) : Optional.empty();
            }
        }
    }

    public List<ImageRow> list(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + READ + " FROM images ORDER BY name");
             ResultSet rs = ps.executeQuery()) {
            List<ImageRow> out = new ArrayList<>();
            while (rs.next()) out.add(row(rs));
            return out;
        }
    }

    /**
     * Records {@code profile} as the image's boot profile, sent by {@code node}, unless one is recorded already (the
     * first deployment to reach ready wins; later ones change nothing); false then, or when the image is gone.
     */
    public boolean recordBootProfile(Tx tx, String name, byte[] profile, String sha256, String node) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE images SET boot_profile = ?, boot_profile_sha256 = ?,"
                + " boot_profile_bytes = ?, boot_profile_node = ? WHERE name = ? AND boot_profile_sha256 IS NULL")) {
            ps.setBytes(1, profile);
            ps.setString(2, sha256);
            ps.setLong(3, profile.length);
            ps.setString(4, node);
            ps.setString(5, name);
            return ps.executeUpdate() == 1;
        }
    }

    /** The recorded boot profile (at most 1 MiB, read whole); empty when none is, or no such image. */
    public Optional<byte[]> bootProfile(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT boot_profile FROM images WHERE name = ? AND boot_profile_sha256 IS NOT NULL")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getBytes(1)) : Optional.empty();
            }
        }
    }

    /** The data ranges as (offset, length) pairs; empty when the image does not exist. */
    public Optional<long[]> extents(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT extents FROM images WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(decode(rs.getBytes(1))) : Optional.empty();
            }
        }
    }

    /** A stored boot file: its SHA-256 in hex (the HTTP ETag) and its length. */
    public record StoredFile(String sha256, long sizeBytes) {
        public int chunks() {
            return (int) ((sizeBytes + CHUNK - 1) / CHUNK);
        }
    }

    public Optional<StoredFile> bootFile(Tx tx, String image, BootFile kind) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT sha256, size_bytes FROM image_files WHERE image = ? AND kind = ? AND sha256 IS NOT NULL")) {
            ps.setString(1, image);
            ps.setString(2, wire(kind));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new StoredFile(rs.getString(1), rs.getLong(2))) : Optional.empty();
            }
        }
    }

    /**
     * Chunk {@code seq} of the boot file whose SHA-256 is {@code sha256}; empty when the file is gone or is now
     * another (the image was removed, or removed and added again, while a download was under way).
     */
    public Optional<byte[]> bootFileChunk(Tx tx, String image, BootFile kind, String sha256, int seq) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT c.content FROM boot_file_chunks c"
                + " JOIN image_files f ON f.image = c.image AND f.kind = c.kind"
                + " WHERE c.image = ? AND c.kind = ? AND c.seq = ? AND f.sha256 = ?")) {
            ps.setString(1, image);
            ps.setString(2, wire(kind));
            ps.setInt(3, seq);
            ps.setString(4, sha256);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.empty();
            }
        }
    }

    /** Boot files stored whole before V5, by image and kind: {@link #moveLegacyFile} moves each into chunks. */
    public List<String[]> legacyFiles(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT image, kind FROM image_files WHERE sha256 IS NULL");
             ResultSet rs = ps.executeQuery()) {
            List<String[]> out = new ArrayList<>();
            while (rs.next()) out.add(new String[] {rs.getString(1), rs.getString(2)});
            return out;
        }
    }

    /** Moves one whole-stored boot file into chunks (read whole this once: it was stored whole). */
    public void moveLegacyFile(Tx tx, String image, String kind) throws SQLException, IOException {
        byte[] content;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT content FROM image_files WHERE image = ? AND kind = ? AND sha256 IS NULL")) {
            ps.setString(1, image);
            ps.setString(2, kind);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return;
                content = rs.getBytes(1);
            }
        }
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM image_files WHERE image = ? AND kind = ?")) {
            ps.setString(1, image);
            ps.setString(2, kind);
            ps.executeUpdate();
        }
        putFile(tx, image, BootFile.valueOf(kind.toUpperCase(java.util.Locale.ROOT)), new java.io.ByteArrayInputStream(content));
    }

    /** Deletes the image and its files unless an instance that is not deleted uses it; false when refused or absent. */
    public boolean deleteUnused(Tx tx, String name) throws SQLException {
        // The image row's lock first, in its own statement: a launch inserting an instance of it holds that lock on H2
        // (see InstanceRepository#insertPending), so this waits for it to commit, and the check below, a new
        // statement, then sees its instances. On PostgreSQL the foreign key alone would do; the lock costs nothing.
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT name FROM images WHERE name = ? FOR UPDATE")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return false;
            }
        }
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "DELETE FROM images WHERE name = ? AND NOT EXISTS (SELECT 1 FROM instances WHERE image = ? AND state <> 'deleted')")) {
            ps.setString(1, name);
            ps.setString(2, name);
            if (ps.executeUpdate() != 1) return false;
        }
        for (String table : List.of("image_files", "boot_file_chunks")) {
            try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM " + table + " WHERE image = ?")) {
                ps.setString(1, name);
                ps.executeUpdate();
            }
        }
        return true;
    }

    private static String wire(BootFile kind) {
        return kind.name().toLowerCase(java.util.Locale.ROOT);
    }

    private static ImageRow row(ResultSet rs) throws SQLException {
        return new ImageRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getInt(5), rs.getString(6),
                rs.getBoolean(7), rs.getBoolean(8), rs.getLong(9), rs.getString(11), rs.getLong(12), rs.getString(10));
    }

    static byte[] encode(long[] pairs) {
        ByteBuffer b = ByteBuffer.allocate(pairs.length * Long.BYTES);
        for (long v : pairs) b.putLong(v);
        return b.array();
    }

    static long[] decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        long[] out = new long[bytes.length / Long.BYTES];
        for (int i = 0; i < out.length; i++) out[i] = b.getLong();
        return out;
    }
}
