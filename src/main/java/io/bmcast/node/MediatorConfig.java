package io.bmcast.node;

import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Properties;

/**
 * What one mediator serves and how: the settings {@code bmcast node} takes as options, and the file
 * ({@link NodeState#CONFIG}, a {@link Properties} file) that {@code instance run} writes into the state dir for
 * the mediator it starts ({@link MediatorMain}). A file, not a second command line: the mediator's JVM then
 * loads no command-line parser at all, and its start is on the path to the guest's boot.
 *
 * @param hydrateRate bytes per second for the background copy, 0 for no cap
 * @param bootProfile regions a recorded boot read, fetched first; null for none
 * @param sourceExtents the image's extent map as the control plane caches it; null to ask the image server
 * @param allowLowSpace start a fresh deployment even when the local disk's file system lacks room for the image's data
 */
public record MediatorConfig(NbdUri image, Path disk, Path state, Path socket, long regionSize, long hydrateRate,
        Duration giveUp, Path bootProfile, Path sourceExtents, boolean allowLowSpace) {
    public static final long DEFAULT_REGION_SIZE = 64 * 1024;
    public static final Duration DEFAULT_GIVE_UP = Duration.ofSeconds(60);

    public MediatorConfig(NbdUri image, Path disk, Path state, Path socket, long regionSize, long hydrateRate,
            Duration giveUp, Path bootProfile, Path sourceExtents) {
        this(image, disk, state, socket, regionSize, hydrateRate, giveUp, bootProfile, sourceExtents, false);
    }

    public MediatorConfig {
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(disk, "disk");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(giveUp, "giveUp");
    }

    /** Writes the settings to {@code file}, whole or not at all (a mediator restarted meanwhile reads one or the other). */
    public void write(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("image", image.toString());
        p.setProperty("disk", disk.toString());
        p.setProperty("state", state.toString());
        p.setProperty("socket", socket.toString());
        p.setProperty("regionSize", Long.toString(regionSize));
        p.setProperty("hydrateRate", Long.toString(hydrateRate));
        p.setProperty("giveUp", giveUp.toString());
        if (bootProfile != null) p.setProperty("bootProfile", bootProfile.toString());
        if (sourceExtents != null) p.setProperty("sourceExtents", sourceExtents.toString());
        if (allowLowSpace) p.setProperty("allowLowSpace", "true");
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            p.store(w, "bmcast mediator (written by instance run, read by the mediator it starts)");
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static MediatorConfig read(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        try {
            return new MediatorConfig(NbdUri.parse(required(p, "image", file)), Path.of(required(p, "disk", file)),
                    Path.of(required(p, "state", file)), Path.of(required(p, "socket", file)),
                    Long.parseLong(required(p, "regionSize", file)), Long.parseLong(required(p, "hydrateRate", file)),
                    Duration.parse(required(p, "giveUp", file)), optionalPath(p, "bootProfile"), optionalPath(p, "sourceExtents"),
                    Boolean.parseBoolean(p.getProperty("allowLowSpace", "false")));
        } catch (IllegalArgumentException | DateTimeParseException e) {
            throw new IOException(file + " is not a mediator's configuration: " + e.getMessage(), e);
        }
    }

    private static String required(Properties p, String key, Path file) throws IOException {
        String v = p.getProperty(key);
        if (v == null) throw new IOException(file + " is not a mediator's configuration: it has no " + key);
        return v;
    }

    private static Path optionalPath(Properties p, String key) {
        String v = p.getProperty(key);
        return v == null ? null : Path.of(v);
    }
}
