package io.bmcast.instance;

import com.fasterxml.jackson.core.JsonFactory;
import io.bmcast.guest.GuestCache;
import io.bmcast.node.MediatorConfig;
import io.bmcast.node.MediatorMain;
import io.bmcast.node.NodeState;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The mediator as a child process of its own, so that the instance survives it: its settings go to
 * {@code STATE/node.properties} ({@link MediatorConfig}), its pid to {@code STATE/node.pid}, its log to
 * {@code STATE/node.log}, and it can be restarted on the same state and socket while QEMU holds the guest's I/O
 * (QEMU's nbd {@code reconnect-delay}).
 *
 * <p>Its start is on the path to the guest's boot, so the JVM gets as little as its work needs: {@link MediatorMain}
 * rather than the {@code bmcast} command line (no picocli), a class path of bmcast's jar and jackson-core only
 * ({@link #mediatorClassPath}), and a class-data archive ({@link ClassDataArchive}).
 */
final class NodeProcess {
    private final MediatorConfig config;
    private final Path state;
    private final Path socket;
    private final String classPath;
    private final ClassDataArchive cds;
    private final Path cdsDump;
    private final List<String> diagnostics;
    private Process process;
    private LogFollower follower;
    /** This process records the class-data archive: it writes it as it exits, which takes a while. */
    private boolean recording;

    /**
     * Extra time a recording mediator gets to exit: killed, it takes the archive with it, and every later mediator
     * starts without one and records again. Seconds on an idle machine, half a minute seen on a loaded one.
     */
    private static final Duration RECORDING_GRACE = Duration.ofSeconds(60);
    /** Set by {@link #refuseStarts}: no start after it. Guarded by this. */
    private boolean closed;

    NodeProcess(MediatorConfig config) {
        this(config, config.image().isStore() ? storeClassPath() : mediatorClassPath(), GuestCache.root().resolve("cds"), List.of());
    }

    /** Visible for testing: another class path and archive dir than a deployment's, and JVM options such as -Xlog. */
    NodeProcess(MediatorConfig config, String classPath, Path archiveDir, List<String> diagnostics) {
        this.config = config;
        this.state = config.state();
        this.socket = config.socket();
        this.classPath = classPath;
        this.cds = new ClassDataArchive(archiveDir, classPath);
        this.cdsDump = state.resolve("node-classes.aot.tmp");
        this.diagnostics = List.copyOf(diagnostics);
    }

    /**
     * Where the mediator's classes are: bmcast's own (its jar, or a class directory in tests) and jackson-core's
     * (the status file, the extent map), each found where this JVM loaded it from. Not this JVM's class path: that
     * is bmcast.jar, whose manifest names every library of every command (~60 jars), and each of those is one
     * more entry the JVM validates an archive against and a class lookup may open.
     */
    static String mediatorClassPath() {
        try {
            return Stream.of(JsonFactory.class, MediatorMain.class)
                    .map(c -> Path.of(URI.create(c.getProtectionDomain().getCodeSource().getLocation().toString())).toString())
                    .distinct().collect(Collectors.joining(File.pathSeparator));
        } catch (RuntimeException e) {
            return System.getProperty("java.class.path"); // an unusual class loader: everything, as before
        }
    }

    /**
     * For an {@code s3://} image the mediator also needs the AWS SDK (some thirty jars of its own) and zstd-jni:
     * this JVM's class path then (bmcast.jar, whose manifest names them all), rather than a list of the SDK's
     * internals that would break with its next release.
     */
    static String storeClassPath() {
        String cp = System.getProperty("java.class.path");
        return cp == null || cp.isBlank() ? mediatorClassPath() : cp;
    }

    /**
     * Starts the mediator and waits until it accepts connections on its socket, passing each line it logs meanwhile
     * to {@code progress}: while the image server cannot be reached, those lines are all an operator sees.
     */
    synchronized void start(Duration timeout, Consumer<String> progress) throws IOException {
        launch();
        awaitListening(timeout, progress);
    }

    /** Starts the mediator's process and returns at once; {@link #awaitListening} waits for its socket. */
    synchronized void launch() throws IOException {
        if (closed) throw new IOException("the instance is stopping: the mediator is not started again");
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx512m"));
        Files.createDirectories(state);
        cds.adopt(cdsDump); // a dump left by the previous mediator, if it exited cleanly
        List<String> archiveOptions = cds.jvmOptions(cdsDump);
        recording = archiveOptions.stream().anyMatch(o -> o.startsWith("-XX:AOTCacheOutput"));
        cmd.addAll(archiveOptions);
        cmd.addAll(diagnostics);
        Path settings = state.resolve(NodeState.CONFIG);
        config.write(settings);
        cmd.addAll(List.of("-cp", classPath, MediatorMain.class.getName(), settings.toString()));
        Path log = state.resolve("node.log");
        follower = new LogFollower(log);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        // A store image: credentials this JVM holds as system properties (the demo, tests) reach the mediator too.
        if (config.image().isStore()) pb.environment().putAll(io.bmcast.imagestore.StoreCredentials.forChildren());
        process = pb.start();
        Files.writeString(state.resolve(NodeState.PID), process.pid() + "\n", StandardCharsets.UTF_8);
    }

    /**
     * Waits until the mediator {@linkplain #launch launched} last accepts connections on its socket, passing each
     * line it logs meanwhile to {@code progress}; kills it if it does not within {@code timeout}.
     */
    synchronized void awaitListening(Duration timeout, Consumer<String> progress) throws IOException {
        Path log = state.resolve("node.log");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive()) {
                follower.poll(progress);
                cds.discard(cdsDump); // classes of a failed start: a poor archive to keep for every later one
                throw new IOException("the mediator exited with code " + process.exitValue() + ": " + lastLine(log));
            }
            follower.poll(progress);
            if (Files.exists(socket)) {
                try (SocketChannel ignored = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                    return;
                } catch (IOException notYet) {
                    // a stale socket file from the previous process, or not listening yet
                }
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                throw new IOException("the mediator did not listen on " + socket + " within " + timeout.toSeconds() + " s:\n" + tail(log));
            }
            sleep(5);
        }
    }

    /** True once {@link #refuseStarts} was called: the instance is going away. */
    synchronized boolean isClosed() {
        return closed;
    }

    synchronized boolean isAlive() {
        return process != null && process.isAlive();
    }

    synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    synchronized int exitCode() {
        return process == null || process.isAlive() ? -1 : process.exitValue();
    }

    /**
     * Refuses every later {@link #start}: a supervision loop that sees the mediator die of the same Ctrl-C must not
     * start one that outlives the instance. A start in progress finishes first (the caller then stops it).
     */
    synchronized void refuseStarts() {
        closed = true;
    }

    /**
     * SIGTERM (the mediator commits its map and exits), then SIGKILL after {@code grace} (plus
     * {@link #RECORDING_GRACE} for a mediator that records the class-data archive as it exits).
     */
    synchronized int stop(Duration grace) {
        if (process == null) return -1;
        process.destroy();
        try {
            long waitMs = grace.toMillis() + (recording ? RECORDING_GRACE.toMillis() : 0);
            if (!process.waitFor(waitMs, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        if (process.isAlive()) return -1;
        cds.adopt(cdsDump);
        return process.exitValue();
    }

    /**
     * The mediator's last words: its one-line error without the launcher's prefix, else its last line of its own
     * (the JVM's lines, such as a class-data archive's warnings at exit, start with "[").
     */
    static String lastLine(Path log) {
        List<String> lines;
        try {
            lines = Files.readAllLines(log, StandardCharsets.UTF_8).stream().filter(l -> !l.startsWith("[") && !l.isBlank()).toList();
        } catch (IOException e) {
            return "(no log)";
        }
        for (String l : lines.reversed()) if (l.startsWith("bmcast: ")) return l.substring("bmcast: ".length());
        return lines.isEmpty() ? "(nothing in its log)" : lines.getLast();
    }

    /** Passes the mediator's own lines appended to its log since the start to a consumer, one poll at a time. */
    private static final class LogFollower {
        private final Path log;
        private long offset;
        private final StringBuilder partial = new StringBuilder();

        LogFollower(Path log) {
            this.log = log;
            try {
                this.offset = Files.exists(log) ? Files.size(log) : 0;
            } catch (IOException e) {
                this.offset = 0;
            }
        }

        void poll(Consumer<String> lines) {
            try (var ch = java.nio.channels.FileChannel.open(log)) {
                ByteBuffer b = ByteBuffer.allocate(8192);
                int n;
                while ((n = ch.read(b.clear(), offset)) > 0) {
                    offset += n;
                    partial.append(new String(b.array(), 0, n, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                return;
            }
            for (int nl; (nl = partial.indexOf("\n")) >= 0; ) {
                String line = partial.substring(0, nl);
                if (line.startsWith("node: ")) lines.accept(line);
                partial.delete(0, nl + 1);
            }
        }
    }

    static String tail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
        } catch (IOException e) {
            return "(no log)";
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
