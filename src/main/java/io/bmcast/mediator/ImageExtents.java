package io.bmcast.mediator;

import io.bmcast.protocol.Nbd;
import io.bmcast.transport.Export;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An image's data extents, as the control plane caches them (Swift Birth's cached metadata): everything outside
 * {@code extents} reads as zero. A mediator given this map trusts it instead of asking the image server for
 * block status at every start, so N launches of one image do not each scan it again.
 *
 * <pre>
 *   {"size": 34359738368, "extents": [[0, 1048576], [69206016, 25165824], ...]}
 * </pre>
 * Extents are {@code [offset, length]} pairs, ascending, not overlapping, inside {@code [0, size)}.
 *
 * @param size    the image's size in bytes: a map of another size belongs to another image and is refused
 * @param extents the data ranges
 */
public record ImageExtents(long size, long[][] extents) {

    public ImageExtents {
        if (size < 0) throw new IllegalArgumentException("negative image size " + size);
        if (extents == null) extents = new long[0][];
        long end = 0;
        for (long[] e : extents) {
            if (e == null || e.length != 2) throw new IllegalArgumentException("an extent is not [offset, length]");
            String where = "extent [" + e[0] + ", " + e[1] + "]";
            if (e[1] < 0) throw new IllegalArgumentException(where + " has a negative length");
            if (e[0] < end) throw new IllegalArgumentException(where + " starts before the one before it ends (" + end + ")");
            if (e[0] + e[1] > size || e[0] + e[1] < e[0]) {
                throw new IllegalArgumentException(where + " ends past the image's " + size + " bytes");
            }
            end = e[0] + e[1];
        }
    }

    /**
     * Reads and checks a map written by {@link #write} (or by the control plane); says what is wrong, in one line.
     * With Jackson's streaming parser, not its object mapper: the mediator reads this before it serves, and in a
     * cold JVM here the mapper loaded ~400 Jackson classes and took ~0.65 s to read a map, the parser ~70 and ~0.2 s.
     */
    public static ImageExtents read(Path file) throws IOException {
        try (JsonParser p = JSON.createParser(file.toFile())) {
            expect(p, p.nextToken(), JsonToken.START_OBJECT, "an object");
            long size = -1;
            List<long[]> extents = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("size")) {
                    expect(p, value, JsonToken.VALUE_NUMBER_INT, "\"size\": a number of bytes");
                    size = p.getLongValue();
                } else if (field.equals("extents")) {
                    expect(p, value, JsonToken.START_ARRAY, "\"extents\": [[offset, length], ...]");
                    while (p.nextToken() == JsonToken.START_ARRAY) {
                        long[] e = new long[2];
                        for (int i = 0; i < 2; i++) {
                            expect(p, p.nextToken(), JsonToken.VALUE_NUMBER_INT, "an extent [offset, length]");
                            e[i] = p.getLongValue();
                        }
                        expect(p, p.nextToken(), JsonToken.END_ARRAY, "an extent [offset, length]");
                        extents.add(e);
                    }
                    expect(p, p.currentToken(), JsonToken.END_ARRAY, "\"extents\": [[offset, length], ...]");
                } else {
                    p.skipChildren(); // a field of a later version
                }
            }
            if (size < 0) throw new IOException("no \"size\"");
            return new ImageExtents(size, extents.toArray(long[][]::new));
        } catch (JacksonException e) {
            throw new IOException("extents file " + file + " is not {\"size\": N, \"extents\": [[offset, length], ...]}: "
                    + firstLine(e.getOriginalMessage()), e);
        } catch (IllegalArgumentException | IOException e) {
            throw new IOException("extents file " + file + ": " + e.getMessage(), e);
        }
    }

    private static final JsonFactory JSON = new JsonFactory();

    private static void expect(JsonParser p, JsonToken actual, JsonToken expected, String what) throws IOException {
        if (actual != expected) {
            throw new IOException("expected " + what + " at line " + p.currentLocation().getLineNr() + ", found "
                    + (actual == null ? "the end" : actual.asString() != null ? actual.asString() : p.getText()));
        }
    }

    /** Writes the map (temp file and rename: a reader never sees half of it). */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Jackson.MAPPER.writeValue(tmp.toFile(), this);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Scans {@code image}'s {@code base:allocation} block status once: data is everything not promised to read as
     * zero ({@code STATE_ZERO}), the same rule the mediator applies when it asks itself.
     */
    public static ImageExtents scan(Export image) throws IOException {
        long size = image.size();
        List<long[]> out = new ArrayList<>();
        long[] pos = {0};
        while (pos[0] < size) {
            long before = pos[0];
            image.blockStatus(pos[0], Math.min(1L << 30, size - pos[0]), (length, flags) -> {
                long len = Math.min(length, size - pos[0]);
                if (len <= 0) return false;
                if ((flags & Nbd.STATE_ZERO) == 0) {
                    long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
                    if (last != null && last[0] + last[1] == pos[0]) last[1] += len;
                    else out.add(new long[] {pos[0], len});
                }
                pos[0] += len;
                return pos[0] < size;
            });
            if (pos[0] == before) { // nothing described: the rest counts as data, which is always safe
                out.add(new long[] {pos[0], size - pos[0]});
                break;
            }
        }
        return new ImageExtents(size, out.toArray(long[][]::new));
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    /** Bytes inside the data extents. */
    public long dataBytes() {
        long n = 0;
        for (long[] e : extents) n += e[1];
        return n;
    }
}
