package io.bmcast.controller.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.Consumer;
import org.flywaydb.core.Flyway;

/**
 * The fleet's database: a HikariCP pool over H2 (embedded file) or PostgreSQL, migrated by Flyway at open.
 * Repositories borrow connections through {@link #transaction} and {@link #read}; nothing else sees JDBC.
 */
public final class Database implements AutoCloseable {
    /** The SQL dialects the schema is written for; the few differences live in the repositories. */
    public enum Dialect { H2, POSTGRESQL }

    /** One unit of SQL work on a borrowed connection. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    private final HikariDataSource pool;
    private final Dialect dialect;
    /** Hears every event once its transaction committed (the live stream); set once at start. */
    private volatile Consumer<EventRow> committedEvents = e -> {};

    private Database(HikariDataSource pool, Dialect dialect) {
        this.pool = pool;
        this.dialect = dialect;
    }

    /** Opens a pool on {@code jdbcUrl} and brings the schema to the newest migration. */
    public static Database open(String jdbcUrl) {
        Dialect dialect;
        if (jdbcUrl.startsWith("jdbc:h2:")) dialect = Dialect.H2;
        else if (jdbcUrl.startsWith("jdbc:postgresql:")) dialect = Dialect.POSTGRESQL;
        else throw new IllegalArgumentException("unsupported database URL '" + jdbcUrl + "' (expected jdbc:h2:... or jdbc:postgresql:...)");
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setPoolName("fleet-db");
        // Enough for the launch path's parallel claims; more only adds contention on 2-8 cores.
        config.setMaximumPoolSize(16);
        config.setConnectionTimeout(10_000);
        // An unreachable database is a start-up error within seconds, not a pool that retries forever.
        config.setInitializationFailTimeout(10_000);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new StoreException("cannot open the database " + redact(jdbcUrl) + ": " + rootMessage(e), e);
        }
        try {
            Flyway.configure().dataSource(pool).locations("classpath:db/migration").load().migrate();
        } catch (RuntimeException e) {
            pool.close();
            throw new StoreException("cannot migrate the database " + redact(jdbcUrl) + ": " + rootMessage(e), e);
        }
        return new Database(pool, dialect);
    }

    public Dialect dialect() {
        return dialect;
    }

    /** {@code listener} hears each appended event after its transaction committed, never before. */
    public void onCommittedEvent(Consumer<EventRow> listener) {
        this.committedEvents = listener;
    }

    /** Runs {@code work} in one transaction: committed when it returns, rolled back when it throws. */
    public <T> T transaction(Work<T> work) {
        Tx tx;
        T result;
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            tx = new Tx(c);
            try {
                result = work.run(tx);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new StoreException(e.getMessage(), e);
        }
        for (EventRow e : tx.appended()) committedEvents.accept(e);
        return result;
    }

    /** Runs {@code work} in auto-commit mode: one statement, or reads that need no common snapshot. */
    public <T> T read(Work<T> work) {
        Tx tx;
        T result;
        try (Connection c = pool.getConnection()) {
            tx = new Tx(c);
            result = work.run(tx);
        } catch (SQLException e) {
            throw new StoreException(e.getMessage(), e);
        }
        for (EventRow e : tx.appended()) committedEvents.accept(e);
        return result;
    }

    @Override
    public void close() {
        pool.close();
    }

    private static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
