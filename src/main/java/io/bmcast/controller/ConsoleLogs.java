package io.bmcast.controller;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Each instance's serial console as its agent sent it, kept to its last {@code keepBytes} under the data directory.
 * Offsets count the UTF-8 bytes of the text received since the instance started; an agent's chunk is appended only
 * when it starts at the offset held, so a lost or repeated heartbeat neither drops nor doubles output.
 *
 * <p>Layout: {@code console/ID/START.log}, segments named by the offset of their first byte, at most two of them and
 * each at most half the cap. A segment that is full is left alone and a new one started; the oldest of three is
 * deleted. So the log holds between half the cap and the cap, and no append ever rewrites what is kept (trimming
 * one file in place would copy up to the cap on every heartbeat). The offset held is the newest segment's start
 * plus its length.
 */
public final class ConsoleLogs {
    private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern SEGMENT = Pattern.compile("[0-9]{1,19}\\.log");

    /** What a reader gets: {@code start} is the first byte still kept, {@code from}..{@code end} the piece read. */
    public record Piece(long start, long from, long end) {}

    private final Path dir;
    private final long segmentBytes;
    /** Held offsets by instance; {@code compute} on one id serialises that instance's appends (and its removal). */
    private final ConcurrentHashMap<String, Long> held = new ConcurrentHashMap<>();

    public ConsoleLogs(Path dir, long keepBytes) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.segmentBytes = Math.max(1, keepBytes / 2);
    }

    /** How many console bytes of {@code instanceId} the controller has received (kept or not). */
    public long held(String instanceId) {
        return held.computeIfAbsent(instanceId, this::scan);
    }

    /** Appends {@code text} when {@code offset} is what is held; answers the offset held afterwards. */
    public long append(String instanceId, long offset, String text) {
        if (text == null || text.isEmpty()) return held(instanceId);
        return held.compute(instanceId, (id, h) -> {
            long at = h != null ? h : scan(id);
            if (offset != at) return at;
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            try {
                write(id, at, bytes);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot append to the console log of " + id + ": " + e.getMessage(), e);
            }
            return at + bytes.length;
        });
    }

    private void write(String id, long at, byte[] bytes) throws IOException {
        Path logs = Files.createDirectories(instanceDir(id));
        List<Long> starts = segments(id);
        long newest = starts.isEmpty() ? at : starts.getLast();
        Path current = logs.resolve(newest + ".log");
        long size = starts.isEmpty() ? 0 : Files.size(current);
        int skip = 0;
        if (size + bytes.length > segmentBytes) {
            // a new segment; a chunk larger than a whole segment keeps only its end
            skip = (int) Math.max(0, bytes.length - segmentBytes);
            current = logs.resolve((at + skip) + ".log");
        }
        try (FileChannel ch = FileChannel.open(current, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes, skip, bytes.length - skip));
        }
        List<Long> now = segments(id);
        for (int i = 0; i < now.size() - 2; i++) Files.deleteIfExists(logs.resolve(now.get(i) + ".log"));
    }

    /**
     * Where a read of at most {@code max} bytes from offset {@code from} lands in the kept log: from the oldest kept
     * byte when {@code from} is older, the last {@code max} bytes when {@code from} is negative; {@code max} is at most
     * the cap.
     */
    public Piece locate(String instanceId, long from, long max) throws IOException {
        max = Math.min(max, 2 * segmentBytes); // a read is never more than the cap
        List<Long> starts = segments(instanceId);
        Long h = held.get(instanceId); // a reader does not put an instance back in memory (a deleted one's log is read too)
        long end = h != null ? h : scan(instanceId);
        if (starts.isEmpty()) return new Piece(end, end, end);
        long start = starts.getFirst();
        long first = from < 0 ? Math.max(start, end - max) : Math.min(Math.max(from, start), end);
        return new Piece(start, first, Math.min(end, first + max));
    }

    /** Writes {@code piece} to {@code out} straight from the files, never read whole. */
    public void copy(String instanceId, Piece piece, OutputStream out) throws IOException {
        List<Long> starts = segments(instanceId);
        var sink = java.nio.channels.Channels.newChannel(out);
        for (int i = 0; i < starts.size(); i++) {
            long segStart = starts.get(i);
            long segEnd = i + 1 < starts.size() ? starts.get(i + 1) : piece.end();
            long a = Math.max(piece.from(), segStart);
            long b = Math.min(piece.end(), segEnd);
            if (a >= b) continue;
            try (FileChannel ch = FileChannel.open(instanceDir(instanceId).resolve(segStart + ".log"), StandardOpenOption.READ)) {
                for (long at = a; at < b;) {
                    long n = ch.transferTo(at - segStart, b - at, sink);
                    if (n <= 0) break;
                    at += n;
                }
            } catch (NoSuchFileException e) {
                // rotated away while we read: the rest is still right
            }
        }
    }

    /** The whole kept log as text (at most the cap). */
    public String read(String instanceId) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        copy(instanceId, locate(instanceId, 0, Long.MAX_VALUE), out);
        return out.toString(StandardCharsets.UTF_8);
    }

    /**
     * Every instance id whose log was last written before {@code beforeMs} (all of them for {@code Long.MAX_VALUE}): a
     * log written since cannot be of an instance deleted before then, so the sweep asks the database about these only.
     */
    public List<String> instances(long beforeMs) throws IOException {
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.endsWith(".log")) n = n.substring(0, n.length() - 4);
                if (SAFE_ID.matcher(n).matches() && lastWrittenMs(p) < beforeMs) out.add(n);
            }
        }
        return new ArrayList<>(out);
    }

    private static long lastWrittenMs(Path p) throws IOException {
        try {
            if (!Files.isDirectory(p)) return Files.getLastModifiedTime(p).toMillis();
            long newest = Files.getLastModifiedTime(p).toMillis();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path f : ds) newest = Math.max(newest, Files.getLastModifiedTime(f).toMillis());
            }
            return newest;
        } catch (NoSuchFileException gone) {
            return Long.MIN_VALUE;
        }
    }

    /** Deletes the instance's log. */
    public void remove(String instanceId) {
        held.compute(instanceId, (id, h) -> {
            try {
                Files.deleteIfExists(dir.resolve(id + ".log"));
                Path d = instanceDir(id);
                if (Files.isDirectory(d)) {
                    try (Stream<Path> files = Files.list(d)) {
                        for (Path f : files.toList()) Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(d);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove the console log of " + id + ": " + e.getMessage(), e);
            }
            return null;
        });
    }

    /** Instances whose held offset is in memory. */
    public java.util.Set<String> tracked() {
        return java.util.Set.copyOf(held.keySet());
    }

    /** Drops the held offset from memory (it is read from the files again if needed): for an instance that is gone. */
    public void forgetHeld(String instanceId) {
        held.remove(instanceId);
    }

    /** The held offset from the files; a log kept whole before segments (one {@code ID.log}) becomes segments first. */
    private long scan(String id) {
        try {
            moveLegacy(id);
            List<Long> starts = segments(id);
            if (starts.isEmpty()) return 0;
            return starts.getLast() + Files.size(instanceDir(id).resolve(starts.getLast() + ".log"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void moveLegacy(String id) throws IOException {
        Path legacy = dir.resolve(id + ".log");
        if (!Files.exists(legacy)) return;
        Path d = Files.createDirectories(instanceDir(id));
        long size = Files.size(legacy);
        long keepFrom = Math.max(0, size - segmentBytes);
        Path target = d.resolve(keepFrom + ".log");
        if (keepFrom == 0) {
            Files.move(legacy, target, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        try (FileChannel in = FileChannel.open(legacy, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            in.transferTo(keepFrom, size - keepFrom, out);
        }
        Files.delete(legacy);
    }

    private List<Long> segments(String id) throws IOException {
        Path d = instanceDir(id);
        if (!Files.isDirectory(d)) return List.of();
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (SEGMENT.matcher(n).matches()) out.add(Long.parseLong(n.substring(0, n.length() - 4)));
            }
        } catch (NoSuchFileException e) {
            return List.of();
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    private Path instanceDir(String id) {
        if (!SAFE_ID.matcher(id).matches()) throw new IllegalArgumentException("bad instance id '" + id + "'");
        return dir.resolve(id);
    }
}
