package io.bmcast.bench;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A private PostgreSQL cluster in a temp directory, for the fleet benchmark and the tests: {@code initdb} with
 * trust authentication, TCP on 127.0.0.1 at a free port, its sockets in the same directory, {@code fsync} off
 * (it holds nothing that must outlive a crash of this machine). PostgreSQL refuses to run as root, so when this
 * JVM is root (CI is) every server command runs as the {@code postgres} user, which then owns the directory.
 * Each user gets a database of its own from {@link #newDatabase()}; {@link #close()} stops the server and
 * deletes the directory.
 */
public final class PrivatePostgres implements AutoCloseable {
    private final Path bin;
    private final Path dir;
    private final int port;
    private final AtomicInteger databases = new AtomicInteger();

    private PrivatePostgres(Path bin, Path dir, int port) {
        this.bin = bin;
        this.dir = dir;
        this.port = port;
    }

    /** The server binaries of the newest PostgreSQL installed the Debian way, if any. */
    public static Optional<Path> installed() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) return Optional.empty();
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparingInt(PrivatePostgres::major));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static int major(Path bin) {
        try {
            return Integer.parseInt(bin.getParent().getFileName().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Creates and starts a cluster with the binaries in {@code bin}. */
    public static PrivatePostgres start(Path bin) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("bmcast-pg");
        boolean root = isRoot();
        if (root) run("chown", "postgres:postgres", dir.toString());
        Path data = dir.resolve("data");
        server(root, bin.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // 300 connections: every controller's pool (16) of a test JVM or of a benchmark's runs at once.
        server(root, bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("server.log").toString(), "-w",
                "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start");
        return new PrivatePostgres(bin, dir, port);
    }

    /** A fresh, empty database; its JDBC URL. */
    public String newDatabase() throws SQLException {
        String name = "fleet_" + databases.incrementAndGet();
        try (Connection c = DriverManager.getConnection(url("postgres")); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        return url(name);
    }

    public String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
    }

    /** e.g. {@code PostgreSQL 15}. */
    public String version() {
        return "PostgreSQL " + major(bin);
    }

    @Override
    public void close() {
        try {
            server(isRoot(), bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "immediate", "-w", "stop");
            run("rm", "-rf", dir.toString());
        } catch (IOException | InterruptedException e) {
            System.err.println("stopping the private PostgreSQL in " + dir + " failed: " + e.getMessage());
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static void server(boolean asPostgres, String... cmd) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asPostgres) full.addAll(List.of("runuser", "-u", "postgres", "--"));
        full.addAll(List.of(cmd));
        run(full.toArray(String[]::new));
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + new String(out).strip());
        }
    }
}
