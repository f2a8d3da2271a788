package io.bmcast.agent;

import io.bmcast.storage.FileHoles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Searches every file under a directory for byte patterns, reading only the data extents (SEEK_DATA), so a
 * 32 GiB sparse disk with nothing in it is searched in no time.
 */
public final class WorkFiles {
    private WorkFiles() {}

    /** The files under {@code dir} holding any of {@code needles}, with the offset of the first hit. */
    public static List<String> find(Path dir, List<byte[]> needles) throws IOException {
        List<String> hits = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                long at = search(p, needles);
                if (at >= 0) hits.add(p + " at " + at);
            }
        }
        return hits;
    }

    static long search(Path file, List<byte[]> needles) throws IOException {
        int overlap = needles.stream().mapToInt(n -> n.length).max().orElse(0);
        ByteBuffer buf = ByteBuffer.allocate(4 << 20);
        try (FileHoles holes = FileHoles.open(file, false); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            long pos = 0;
            while (pos < size) {
                long data = holes.nextData(pos);
                if (data < 0) break;
                long end = Math.min(holes.nextHole(data), size);
                for (long off = data; off < end; ) {
                    buf.clear().limit((int) Math.min(buf.capacity(), end - off));
                    int n = ch.read(buf, off);
                    if (n <= 0) break;
                    byte[] a = buf.array();
                    for (byte[] needle : needles) {
                        int i = indexOf(a, n, needle);
                        if (i >= 0) return off + i;
                    }
                    off += n >= buf.capacity() ? n - overlap : n;
                }
                pos = end;
            }
        }
        return -1;
    }

    private static int indexOf(byte[] hay, int len, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= len; i++) {
            if (hay[i] != needle[0]) continue;
            for (int k = 1; k < needle.length; k++) if (hay[i + k] != needle[k]) continue outer;
            return i;
        }
        return -1;
    }
}
