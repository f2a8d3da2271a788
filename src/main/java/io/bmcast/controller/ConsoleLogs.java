package io.bmcast.controller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Each instance's serial console as its agent sent it, one file per instance under the data directory.
 * The file's length is the offset the controller holds: an agent's chunk is appended only when it starts
 * there, so a lost or repeated heartbeat neither drops nor doubles output. Offsets count the UTF-8 bytes of
 * the text received.
 */
public final class ConsoleLogs {
    private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private final Path dir;
    /** Held offsets by instance; {@code compute} on one id serialises that instance's appends only. */
    private final ConcurrentHashMap<String, Long> held = new ConcurrentHashMap<>();

    public ConsoleLogs(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
    }

    /** How many console bytes of {@code instanceId} the controller holds. */
    public long held(String instanceId) {
        return held.computeIfAbsent(instanceId, this::sizeOnDisk);
    }

    /** Appends {@code text} when {@code offset} is what is held; answers the offset held afterwards. */
    public long append(String instanceId, long offset, String text) {
        if (text == null || text.isEmpty()) return held(instanceId);
        return held.compute(instanceId, (id, h) -> {
            long at = h != null ? h : sizeOnDisk(id);
            if (offset != at) return at;
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            try {
                Files.write(file(id), bytes, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot append to the console log of " + id + ": " + e.getMessage(), e);
            }
            return at + bytes.length;
        });
    }

    public String read(String instanceId) throws IOException {
        try {
            return Files.readString(file(instanceId), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return "";
        }
    }

    private long sizeOnDisk(String id) {
        try {
            return Files.size(file(id));
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Path file(String id) {
        if (!SAFE_ID.matcher(id).matches()) throw new IllegalArgumentException("bad instance id '" + id + "'");
        return dir.resolve(id + ".log");
    }
}
