package io.bmcast.controller;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;

/**
 * A private PostgreSQL cluster for the tests: initdb into a temp directory owned by {@code postgres} (the
 * server refuses to run as root), trust authentication, TCP on 127.0.0.1 at a free port, sockets in the
 * same directory. Started once per test JVM, stopped (and deleted) when the JVM exits. Each test gets a
 * database of its own from {@link #newDatabase()}.
 */
public final class PostgresFixture {
    static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");
    private static PostgresFixture shared;

    private final Path dir;
    private final int port;
    private final AtomicInteger databases = new AtomicInteger();

    private PostgresFixture(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    /** The JVM's cluster, started on first use; skips the test when PostgreSQL is not installed here. */
    public static synchronized PostgresFixture shared() throws IOException, InterruptedException {
        if (shared != null) return shared;
        Assumptions.assumeTrue(Files.isExecutable(BIN.resolve("initdb")), "PostgreSQL 15 is not installed (" + BIN + ")");
        Path dir = Files.createTempDirectory("bmcast-pg");
        run("chown", "postgres:postgres", dir.toString());
        Path data = dir.resolve("data");
        asPostgres(BIN.resolve("initdb") + "", "-D", data.toString(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        // fsync off: the tests kill the controller, never the database server
        asPostgres(BIN.resolve("pg_ctl") + "", "-D", data.toString(), "-l", dir.resolve("server.log").toString(), "-w",
                "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start");
        PostgresFixture f = new PostgresFixture(dir, port);
        Runtime.getRuntime().addShutdownHook(new Thread(f::stop, "postgres-fixture-stop"));
        shared = f;
        return f;
    }

    /** A fresh, empty database; its JDBC URL. */
    public String newDatabase() throws SQLException {
        String name = "fleet_" + databases.incrementAndGet();
        try (Connection c = DriverManager.getConnection(url("postgres")); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        return url(name);
    }

    String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
    }

    private void stop() {
        try {
            asPostgres(BIN.resolve("pg_ctl") + "", "-D", dir.resolve("data").toString(), "-m", "immediate", "-w", "stop");
            run("rm", "-rf", dir.toString());
        } catch (IOException | InterruptedException e) {
            System.err.println("stopping the test PostgreSQL in " + dir + " failed: " + e.getMessage());
        }
    }

    private static void asPostgres(String... cmd) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        full.addAll(List.of(cmd));
        run(full.toArray(String[]::new));
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + new String(out));
        }
    }
}
