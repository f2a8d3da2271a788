package io.bmcast.testing;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Real NBD peers (nbdkit, qemu-nbd) for client tests: started in a private temporary directory, each
 * waited for until its socket accepts, every one killed and the directory removed in {@link #close()},
 * whatever the test did. nbdkit runs with {@code --exit-with-parent} so not even a crashed JVM leaks it.
 */
public final class ClientTestProcesses implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    /** A started server: its process and the Unix socket it listens on. */
    public record Server(Process process, Path socket, List<String> command) {}

    private final Path dir;
    private final List<Process> processes = new ArrayList<>();
    private int counter;

    public ClientTestProcesses() throws IOException {
        dir = Files.createTempDirectory("bmcast-client-test-");
    }

    public Path dir() {
        return dir;
    }

    /** A fresh path inside the private directory. */
    public Path path(String name) {
        return dir.resolve(name);
    }

    /** {@code nbdkit -f --exit-with-parent -U SOCK ARGS...} (ARGS: filters, plugin, plugin parameters). */
    public Server nbdkit(String... args) throws IOException {
        Path sock = dir.resolve("nbdkit-" + (++counter) + ".sock");
        return nbdkitOn(sock, args);
    }

    /** Starts nbdkit on a given socket path (for a restart on the same path). */
    public Server nbdkitOn(Path sock, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("nbdkit", "-f", "--exit-with-parent", "-U", sock.toString()));
        cmd.addAll(List.of(args));
        return startServer(cmd, sock);
    }

    /** {@code qemu-nbd -t -k SOCK ARGS...} (for example {@code -f raw FILE} or {@code -x NAME -f raw FILE}). */
    public Server qemuNbd(String... args) throws IOException {
        Path sock = dir.resolve("qemu-nbd-" + (++counter) + ".sock");
        return qemuNbdOn(sock, args);
    }

    public Server qemuNbdOn(Path sock, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("qemu-nbd", "-t", "-k", sock.toString()));
        cmd.addAll(List.of(args));
        return startServer(cmd, sock);
    }

    /**
     * {@code bmcast ARGS...} (image-server, node...) in a JVM of its own on this test classpath, listening on
     * {@code sock}: a real separate process, so a test can kill it with SIGKILL.
     */
    public Server bmcastOn(Path sock, String... args) throws IOException {
        return startServer(bmcastCommand(args), sock);
    }

    /** {@link #bmcastOn} with more environment (a store's credentials: {@code LocalS3.env()}). */
    public Server bmcastOn(Path sock, Map<String, String> env, String... args) throws IOException {
        return startServer(bmcastCommand(args), sock, env);
    }

    /** The command line that runs the bmcast CLI with {@code args} in a fresh JVM on this test classpath. */
    public static List<String> bmcastCommand(String... args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "io.bmcast.cli.Main"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** SIGTERM (a clean shutdown), and wait until the process is gone. */
    public int stop(Server s) throws InterruptedException {
        s.process().destroy();
        if (!s.process().waitFor(30, TimeUnit.SECONDS)) {
            s.process().destroyForcibly();
            throw new IllegalStateException("process ignored SIGTERM for 30 s: " + s.command());
        }
        return s.process().exitValue();
    }

    /** Starts the same command again on the same socket (after {@link #kill9}). */
    public Server restart(Server s) throws IOException {
        return startServer(s.command(), s.socket());
    }

    private Server startServer(List<String> cmd, Path sock) throws IOException {
        return startServer(cmd, sock, Map.of());
    }

    private Server startServer(List<String> cmd, Path sock, Map<String, String> env) throws IOException {
        Files.deleteIfExists(sock);
        Path log = dir.resolve("server-" + (++counter) + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        synchronized (processes) {
            processes.add(p);
        }
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!p.isAlive()) {
                throw new IOException("server exited with " + p.exitValue() + ": " + cmd + "\n" + Files.readString(log));
            }
            if (Files.exists(sock)) {
                try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    probe.connect(UnixDomainSocketAddress.of(sock));
                    return new Server(p, sock, List.copyOf(cmd));
                } catch (IOException notYet) {
                    // bound but not listening yet
                }
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("server did not listen on " + sock + " within " + START_TIMEOUT + ": "
                        + cmd.subList(Math.max(0, cmd.indexOf("io.bmcast.cli.Main")), cmd.size()) + "\n" + Files.readString(log));
            }
            sleep(20);
        }
    }

    /** Starts a server that listens on a loopback TCP port, and waits until the port accepts. */
    public Process startTcp(int port, String... cmd) throws IOException {
        Path log = dir.resolve("server-" + (++counter) + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        synchronized (processes) {
            processes.add(p);
        }
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            if (!p.isAlive()) throw new IOException("server exited with " + p.exitValue() + ": " + List.of(cmd) + "\n" + Files.readString(log));
            try (SocketChannel probe = SocketChannel.open(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port))) {
                return p;
            } catch (IOException notYet) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("server did not listen on port " + port + " within " + START_TIMEOUT + ": " + List.of(cmd));
            }
            sleep(20);
        }
    }

    /** SIGKILL, and wait until the process is gone. */
    public void kill9(Server s) throws InterruptedException {
        s.process().destroyForcibly();
        if (!s.process().waitFor(10, TimeUnit.SECONDS)) throw new IllegalStateException("process survived SIGKILL");
    }

    private static void sleep(long ms) throws IOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    @Override
    public void close() throws IOException {
        List<Process> all;
        synchronized (processes) {
            all = new ArrayList<>(processes);
            processes.clear();
        }
        for (Process p : all) p.destroyForcibly();
        for (Process p : all) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
