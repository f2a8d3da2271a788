package io.bmcast.controller;

import io.bmcast.bench.PrivatePostgres;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import org.junit.jupiter.api.Assumptions;

/**
 * The tests' PostgreSQL: one {@link PrivatePostgres} cluster per test JVM, started on first use and stopped
 * (and deleted) when the JVM exits. Each test gets a database of its own from {@link #newDatabase()}.
 */
public final class PostgresFixture {
    private static PostgresFixture shared;

    private final PrivatePostgres cluster;

    private PostgresFixture(PrivatePostgres cluster) {
        this.cluster = cluster;
    }

    /** The JVM's cluster, started on first use; skips the test when PostgreSQL is not installed here. */
    public static synchronized PostgresFixture shared() throws IOException, InterruptedException {
        if (shared != null) return shared;
        Path bin = PrivatePostgres.installed().orElse(null);
        Assumptions.assumeTrue(bin != null, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin)");
        PrivatePostgres cluster = PrivatePostgres.start(bin);
        Runtime.getRuntime().addShutdownHook(new Thread(cluster::close, "postgres-fixture-stop"));
        shared = new PostgresFixture(cluster);
        return shared;
    }

    /** A fresh, empty database; its JDBC URL. */
    public String newDatabase() throws SQLException {
        return cluster.newDatabase();
    }
}
