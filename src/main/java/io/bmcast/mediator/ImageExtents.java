package io.bmcast.mediator;

import io.bmcast.protocol.Nbd;
import io.bmcast.transport.Export;
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

    /** Reads and checks a map written by {@link #write} (or by the control plane); says what is wrong, in one line. */
    public static ImageExtents read(Path file) throws IOException {
        ImageExtents x;
        try {
            x = Jackson.MAPPER.readValue(file.toFile(), ImageExtents.class);
        } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
            // Well-formed JSON, but not a map of an image (the constructor's checks).
            String why = e.getCause() != null ? e.getCause().getMessage() : firstLine(e.getOriginalMessage());
            throw new IOException("extents file " + file + ": " + why, e);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException("extents file " + file + " is not {\"size\": N, \"extents\": [[offset, length], ...]}: "
                    + firstLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new IOException("cannot read extents file " + file + ": " + e.getMessage(), e);
        }
        if (x == null) throw new IOException("extents file " + file + " is empty");
        return x;
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
