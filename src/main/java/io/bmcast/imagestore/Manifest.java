package io.bmcast.imagestore;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.bmcast.protocol.Nbd;
import io.bmcast.transport.Export;
import io.bmcast.util.Sha256;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * What an image in the store is made of: its size, the chunk size, and per chunk either the name of the object
 * that holds it or a hole (reads as zeros, nothing stored), plus what boots it. Written last by a push, so a
 * manifest never names a chunk the store does not hold.
 *
 * <pre>
 * {"format": "bmcast-image/1", "size": 34359738368, "chunkSize": 1048576,
 *  "chunks": [["3f2a...", "zstd", 183211], null, ["9bc0...", "raw", 1048576], ...],
 *  "kernel": {"sha256": "...", "size": 8123456}, "initrd": {...}, "append": "console=ttyS0 ...",
 *  "bootProfile": [[offset, length], ...], "parent": "s3://...", "createdAt": "2026-12-07T20:00:00Z"}
 * </pre>
 * Read with Jackson's streaming parser (the mediator reads one before it serves; see ImageExtents for why).
 *
 * @param chunks one entry per chunk of {@code chunkSize} bytes (the last may be shorter); null for a hole
 * @param kernel null when the disk's own boot loader boots
 * @param bootProfile the byte ranges a recorded boot read, in order; empty when none was recorded
 * @param parent the image this one was derived from (a captured or suspended instance), or null
 */
public record Manifest(long size, int chunkSize, List<Chunk> chunks, BootFile kernel, BootFile initrd, String append,
        List<long[]> bootProfile, String parent, String createdAt) {
    public static final String FORMAT = "bmcast-image/1";
    public static final int MIN_CHUNK = 64 << 10;
    public static final int MAX_CHUNK = 16 << 20;
    /** 1 MiB: an on-demand read waits for one chunk (8 ms at 1 Gbit/s), and a 32 GiB image is 32768 entries. */
    public static final int DEFAULT_CHUNK = 1 << 20;

    /** How a chunk's bytes are stored: as they are, or zstd-compressed (only where that saves space). */
    public enum Encoding {
        RAW("raw"), ZSTD("zstd");

        private final String wire;

        Encoding(String wire) {
            this.wire = wire;
        }

        public String wire() {
            return wire;
        }

        public static Encoding of(String wire) {
            for (Encoding e : values()) if (e.wire.equals(wire)) return e;
            throw new IllegalArgumentException("unknown chunk encoding '" + wire + "' (raw, zstd)");
        }
    }

    /**
     * One stored chunk.
     *
     * @param sha256 the SHA-256 of the bytes as stored (compressed, for {@code zstd}): the object's name
     * @param storedSize the stored object's length in bytes
     */
    public record Chunk(String sha256, Encoding encoding, int storedSize) {
        public Chunk {
            if (!Sha256.isHex(sha256)) throw new IllegalArgumentException("'" + sha256 + "' is not a chunk name (64 lowercase hex digits)");
            Objects.requireNonNull(encoding, "encoding");
            if (storedSize <= 0 || storedSize > MAX_CHUNK + (MAX_CHUNK >> 4)) throw new IllegalArgumentException("chunk " + sha256 + " has a stored size of " + storedSize);
        }
    }

    /** A boot file stored whole under {@link StoreLocation#fileKey}. */
    public record BootFile(String sha256, long size) {
        public BootFile {
            if (!Sha256.isHex(sha256)) throw new IllegalArgumentException("'" + sha256 + "' is not a file name (64 lowercase hex digits)");
            if (size < 0) throw new IllegalArgumentException("negative file size " + size);
        }
    }

    public Manifest {
        if (size <= 0) throw new IllegalArgumentException("an image's size must be positive: " + size);
        if (Integer.bitCount(chunkSize) != 1 || chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK) {
            throw new IllegalArgumentException("the chunk size must be a power of two from 64 KiB to 16 MiB: " + chunkSize);
        }
        chunks = Collections.unmodifiableList(new ArrayList<>(Objects.requireNonNull(chunks, "chunks"))); // nulls allowed
        long expected = (size + chunkSize - 1) / chunkSize;
        if (chunks.size() != expected) {
            throw new IllegalArgumentException("an image of " + size + " bytes in chunks of " + chunkSize + " has " + expected
                    + " chunks, the manifest lists " + chunks.size());
        }
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            if (c != null && c.encoding() == Encoding.RAW && c.storedSize() != chunkLength(size, chunkSize, i)) {
                throw new IllegalArgumentException("chunk " + i + " is stored raw in " + c.storedSize() + " bytes, but holds "
                        + chunkLength(size, chunkSize, i));
            }
        }
        bootProfile = bootProfile == null ? List.of() : List.copyOf(bootProfile);
        if (initrd != null && kernel == null) throw new IllegalArgumentException("an initrd without a kernel");
    }

    private static int chunkLength(long size, int chunkSize, int index) {
        return (int) Math.min(chunkSize, size - (long) index * chunkSize);
    }

    public int chunkCount() {
        return chunks.size();
    }

    /** The bytes chunk {@code index} covers in the image (the last may be shorter than {@link #chunkSize}). */
    public int chunkLength(int index) {
        return chunkLength(size, chunkSize, index);
    }

    public long chunkOffset(int index) {
        return (long) index * chunkSize;
    }

    /** Null for a hole. */
    public Chunk chunk(int index) {
        return chunks.get(index);
    }

    /** Bytes of the image that are not holes: what a deployment moves. */
    public long allocatedBytes() {
        long n = 0;
        for (int i = 0; i < chunks.size(); i++) if (chunks.get(i) != null) n += chunkLength(i);
        return n;
    }

    /** Bytes the store holds for this image (compressed where compressed; shared chunks counted each time). */
    public long storedBytes() {
        long n = 0;
        for (Chunk c : chunks) if (c != null) n += c.storedSize();
        return n;
    }

    /** The image's data extents (runs of non-hole chunks) as {@code [offset, length]} pairs, ascending. */
    public List<long[]> dataExtents() {
        List<long[]> out = new ArrayList<>();
        long start = -1;
        for (int i = 0; i <= chunks.size(); i++) {
            boolean data = i < chunks.size() && chunks.get(i) != null;
            if (data && start < 0) start = chunkOffset(i);
            if (!data && start >= 0) {
                long end = i == chunks.size() ? size : chunkOffset(i);
                out.add(new long[] {start, end - start});
                start = -1;
            }
        }
        return out;
    }

    /**
     * Describes {@code base:allocation} from {@code offset} for up to {@code length} bytes as the manifest says it:
     * runs of hole chunks as holes that read as zeros, runs of stored chunks as data. What every export of a store
     * image answers to BLOCK_STATUS, so that nothing fetches a hole.
     */
    public void describe(long offset, long length, Export.ExtentSink sink) {
        long end = Math.min(size, offset + length);
        long pos = offset;
        while (pos < end) {
            int i = (int) (pos / chunkSize);
            boolean hole = chunks.get(i) == null;
            long runEnd = chunkOffset(i) + chunkLength(i);
            int j = i + 1;
            while (runEnd < end && j < chunks.size() && (chunks.get(j) == null) == hole) {
                runEnd += chunkLength(j);
                j++;
            }
            long n = Math.min(runEnd, end) - pos;
            if (!sink.extent(n, hole ? Nbd.STATE_HOLE | Nbd.STATE_ZERO : 0)) return;
            pos += n;
        }
    }

    public Manifest withBoot(BootFile kernel, BootFile initrd, String append) {
        return new Manifest(size, chunkSize, chunks, kernel, initrd, append, bootProfile, parent, createdAt);
    }

    public Manifest withBootProfile(List<long[]> profile) {
        return new Manifest(size, chunkSize, chunks, kernel, initrd, append, profile, parent, createdAt);
    }

    private static final JsonFactory JSON = new JsonFactory();

    /** The manifest as stored (compact JSON, UTF-8). */
    public byte[] toJson() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 + chunks.size() * 90);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("format", FORMAT);
            g.writeNumberField("size", size);
            g.writeNumberField("chunkSize", chunkSize);
            g.writeArrayFieldStart("chunks");
            for (Chunk c : chunks) {
                if (c == null) {
                    g.writeNull();
                } else {
                    g.writeStartArray();
                    g.writeString(c.sha256());
                    g.writeString(c.encoding().wire());
                    g.writeNumber(c.storedSize());
                    g.writeEndArray();
                }
            }
            g.writeEndArray();
            writeFile(g, "kernel", kernel);
            writeFile(g, "initrd", initrd);
            if (append != null) g.writeStringField("append", append);
            if (!bootProfile.isEmpty()) {
                g.writeArrayFieldStart("bootProfile");
                for (long[] r : bootProfile) {
                    g.writeStartArray();
                    g.writeNumber(r[0]);
                    g.writeNumber(r[1]);
                    g.writeEndArray();
                }
                g.writeEndArray();
            }
            if (parent != null) g.writeStringField("parent", parent);
            if (createdAt != null) g.writeStringField("createdAt", createdAt);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return out.toByteArray();
    }

    private static void writeFile(JsonGenerator g, String field, BootFile f) throws IOException {
        if (f == null) return;
        g.writeObjectFieldStart(field);
        g.writeStringField("sha256", f.sha256());
        g.writeNumberField("size", f.size());
        g.writeEndObject();
    }

    /**
     * Reads and checks a manifest; {@code where} names it in the one-line error (e.g. the image's URI).
     *
     * @throws IOException saying what is wrong and where
     */
    public static Manifest parse(byte[] json, String where) throws IOException {
        try (JsonParser p = JSON.createParser(json)) {
            expect(p, p.nextToken(), JsonToken.START_OBJECT, "an object");
            String format = null;
            long size = -1;
            int chunkSize = -1;
            List<Chunk> chunks = null;
            BootFile kernel = null;
            BootFile initrd = null;
            String append = null;
            String parent = null;
            String createdAt = null;
            List<long[]> profile = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "format" -> format = p.getValueAsString();
                    case "size" -> {
                        expect(p, value, JsonToken.VALUE_NUMBER_INT, "\"size\": a number of bytes");
                        size = p.getLongValue();
                    }
                    case "chunkSize" -> {
                        expect(p, value, JsonToken.VALUE_NUMBER_INT, "\"chunkSize\": a number of bytes");
                        chunkSize = p.getIntValue();
                    }
                    case "chunks" -> {
                        expect(p, value, JsonToken.START_ARRAY, "\"chunks\": [...]");
                        chunks = new ArrayList<>();
                        JsonToken t;
                        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                            if (t == JsonToken.VALUE_NULL) {
                                chunks.add(null);
                                continue;
                            }
                            expect(p, t, JsonToken.START_ARRAY, "a chunk [sha256, encoding, storedSize] or null");
                            expect(p, p.nextToken(), JsonToken.VALUE_STRING, "a chunk's sha256");
                            String sha = p.getText();
                            expect(p, p.nextToken(), JsonToken.VALUE_STRING, "a chunk's encoding");
                            Encoding enc = Encoding.of(p.getText());
                            expect(p, p.nextToken(), JsonToken.VALUE_NUMBER_INT, "a chunk's stored size");
                            int stored = p.getIntValue();
                            expect(p, p.nextToken(), JsonToken.END_ARRAY, "the end of a chunk entry");
                            chunks.add(new Chunk(sha, enc, stored));
                        }
                    }
                    case "kernel" -> kernel = readFile(p, value, "kernel");
                    case "initrd" -> initrd = readFile(p, value, "initrd");
                    case "append" -> append = p.getValueAsString();
                    case "parent" -> parent = p.getValueAsString();
                    case "createdAt" -> createdAt = p.getValueAsString();
                    case "bootProfile" -> {
                        expect(p, value, JsonToken.START_ARRAY, "\"bootProfile\": [[offset, length], ...]");
                        while (p.nextToken() == JsonToken.START_ARRAY) {
                            long[] r = new long[2];
                            for (int i = 0; i < 2; i++) {
                                expect(p, p.nextToken(), JsonToken.VALUE_NUMBER_INT, "a range [offset, length]");
                                r[i] = p.getLongValue();
                            }
                            expect(p, p.nextToken(), JsonToken.END_ARRAY, "a range [offset, length]");
                            profile.add(r);
                        }
                    }
                    default -> p.skipChildren(); // a field of a later version
                }
            }
            if (!FORMAT.equals(format)) throw new IOException("format is " + (format == null ? "missing" : "'" + format + "'") + ", not " + FORMAT);
            if (size < 0) throw new IOException("no \"size\"");
            if (chunkSize < 0) throw new IOException("no \"chunkSize\"");
            if (chunks == null) throw new IOException("no \"chunks\"");
            return new Manifest(size, chunkSize, chunks, kernel, initrd, append, profile, parent, createdAt);
        } catch (JacksonException e) {
            throw new IOException("the manifest of " + where + " is not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""), e);
        } catch (IllegalArgumentException | IOException e) {
            throw new IOException("the manifest of " + where + " is not a bmcast image: " + e.getMessage(), e);
        }
    }

    private static BootFile readFile(JsonParser p, JsonToken value, String what) throws IOException {
        if (value == JsonToken.VALUE_NULL) return null;
        expect(p, value, JsonToken.START_OBJECT, "\"" + what + "\": {\"sha256\": ..., \"size\": ...}");
        String sha = null;
        long size = -1;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String f = p.currentName();
            p.nextToken();
            if (f.equals("sha256")) sha = p.getValueAsString();
            else if (f.equals("size")) size = p.getValueAsLong(-1);
            else p.skipChildren();
        }
        return new BootFile(sha, size);
    }

    private static void expect(JsonParser p, JsonToken actual, JsonToken expected, String what) throws IOException {
        if (actual != expected) {
            throw new IOException("expected " + what + " at column " + p.currentLocation().getColumnNr() + ", found "
                    + (actual == null ? "the end" : p.getText()));
        }
    }
}
