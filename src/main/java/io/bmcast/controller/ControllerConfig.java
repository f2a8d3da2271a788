package io.bmcast.controller;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How to run a controller.
 *
 * @param host address to listen on
 * @param port TCP port (0: any free one; {@link Controller#port()} tells which)
 * @param dataDir tokens, console logs and (by default) the H2 database live here
 * @param jdbcUrl the database (null: an embedded H2 file under {@code dataDir})
 * @param heartbeatTimeout a node not heard from for this long is offline
 * @param heartbeatInterval how often agents are told to report when nothing changes
 * @param serialized the pre-Swift-Birth toolstack (one launch at a time, metadata re-read per launch)
 * @param tlsDir TLS client credentials for reading {@code nbds://} images' metadata (ca-cert.pem...); null for none
 * @param limits request sizes, retention and caps
 * @param deadlines how long an instance may wait for its agent in each state before it fails
 */
public record ControllerConfig(String host, int port, Path dataDir, String jdbcUrl, Duration heartbeatTimeout,
        Duration heartbeatInterval, boolean serialized, Path tlsDir, Limits limits, Deadlines deadlines) {

    public ControllerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(heartbeatTimeout, "heartbeatTimeout");
        Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(deadlines, "deadlines");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be 0..65535, not " + port);
        if (heartbeatTimeout.isNegative() || heartbeatTimeout.isZero()) throw new IllegalArgumentException("the heartbeat timeout must be positive");
        if (heartbeatInterval.isNegative() || heartbeatInterval.isZero()) throw new IllegalArgumentException("the heartbeat interval must be positive");
    }

    public static final Duration DEFAULT_HEARTBEAT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(1);

    /** 127.0.0.1 on any free port, H2 under {@code dataDir}, 5 s timeout, 1 s heartbeats, not serialized, {@link Limits#DEFAULTS}. */
    public static ControllerConfig defaults(Path dataDir) {
        return new ControllerConfig("127.0.0.1", 0, dataDir, null, DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, false, null, Limits.DEFAULTS, Deadlines.DEFAULTS);
    }

    public ControllerConfig withListen(String host, int port) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, heartbeatTimeout, heartbeatInterval, serialized, tlsDir, limits, deadlines);
    }

    public ControllerConfig withJdbcUrl(String url) {
        return new ControllerConfig(host, port, dataDir, url, heartbeatTimeout, heartbeatInterval, serialized, tlsDir, limits, deadlines);
    }

    public ControllerConfig withHeartbeatTimeout(Duration d) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, d, heartbeatInterval, serialized, tlsDir, limits, deadlines);
    }

    public ControllerConfig withHeartbeatInterval(Duration d) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, heartbeatTimeout, d, serialized, tlsDir, limits, deadlines);
    }

    public ControllerConfig withTlsDir(Path dir) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, heartbeatTimeout, heartbeatInterval, serialized, dir, limits, deadlines);
    }

    public ControllerConfig withLimits(Limits l) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, heartbeatTimeout, heartbeatInterval, serialized, tlsDir, l, deadlines);
    }

    public ControllerConfig withDeadlines(Deadlines d) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, heartbeatTimeout, heartbeatInterval, serialized, tlsDir, limits, d);
    }

    public ControllerConfig withSerialized(boolean on) {
        return new ControllerConfig(host, port, dataDir, jdbcUrl, heartbeatTimeout, heartbeatInterval, on, tlsDir, limits, deadlines);
    }

    /**
     * The embedded database: H2 in file mode under {@code dataDir}. {@code WRITE_DELAY=0} writes each commit
     * to the file before the commit returns (H2's default batches them for up to half a second, which a
     * {@code kill -9} would lose); {@code LOCK_TIMEOUT} lets a burst of claims wait for a row rather than fail;
     * {@code DB_CLOSE_ON_EXIT=FALSE} leaves closing to {@link Controller#close()} (H2's own shutdown hook would
     * close the database under requests still being answered).
     */
    public String effectiveJdbcUrl() {
        if (jdbcUrl != null) return jdbcUrl;
        return "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("fleet") + ";WRITE_DELAY=0;LOCK_TIMEOUT=10000;DB_CLOSE_ON_EXIT=FALSE";
    }
}
