package io.bmcast.controller.store;

import java.nio.ByteBuffer;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Images, their cached metadata and their boot files. */
public final class ImageRepository {
    private static final String COLUMNS =
            "name, uri, size_bytes, allocated_bytes, extent_count, append, has_kernel, has_initrd, created_at";

    /** A boot file's kind, as stored and as named in the API path. */
    public enum BootFile { KERNEL, INITRD }

    /**
     * Inserts an image with its extent map ({@code extents}: offset, length pairs) and boot files (null when
     * absent); false when the name is taken. (Two adding one name at the same instant: the second fails with a
     * {@link StoreException#isDuplicateKey() duplicate key}.)
     */
    public boolean insert(Tx tx, ImageRow image, long[] extents, byte[] kernel, byte[] initrd) throws SQLException {
        if (find(tx, image.name()).isPresent()) return false;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO images (" + COLUMNS + ", extents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, image.name());
            ps.setString(2, image.uri());
            ps.setLong(3, image.sizeBytes());
            ps.setLong(4, image.allocatedBytes());
            ps.setInt(5, image.extentCount());
            ps.setString(6, image.append());
            ps.setBoolean(7, kernel != null);
            ps.setBoolean(8, initrd != null);
            ps.setLong(9, image.createdAt());
            ps.setBytes(10, encode(extents));
            ps.executeUpdate();
        }
        if (kernel != null) putFile(tx, image.name(), BootFile.KERNEL, kernel);
        if (initrd != null) putFile(tx, image.name(), BootFile.INITRD, initrd);
        return true;
    }

    private static void putFile(Tx tx, String image, BootFile kind, byte[] content) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO image_files (image, kind, content) VALUES (?, ?, ?)")) {
            ps.setString(1, image);
            ps.setString(2, kind.name().toLowerCase(java.util.Locale.ROOT));
            ps.setBytes(3, content);
            ps.executeUpdate();
        }
    }

    public Optional<ImageRow> find(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + COLUMNS + " FROM images WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(row(rs)) : Optional.empty();
            }
        }
    }

    public List<ImageRow> list(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + COLUMNS + " FROM images ORDER BY name");
             ResultSet rs = ps.executeQuery()) {
            List<ImageRow> out = new ArrayList<>();
            while (rs.next()) out.add(row(rs));
            return out;
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

    public Optional<byte[]> bootFile(Tx tx, String image, BootFile kind) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT content FROM image_files WHERE image = ? AND kind = ?")) {
            ps.setString(1, image);
            ps.setString(2, kind.name().toLowerCase(java.util.Locale.ROOT));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.empty();
            }
        }
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
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM image_files WHERE image = ?")) {
            ps.setString(1, name);
            ps.executeUpdate();
        }
        return true;
    }

    private static ImageRow row(ResultSet rs) throws SQLException {
        return new ImageRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getInt(5), rs.getString(6),
                rs.getBoolean(7), rs.getBoolean(8), rs.getLong(9));
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
