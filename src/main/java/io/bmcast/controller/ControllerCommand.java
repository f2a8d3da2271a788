package io.bmcast.controller;

import io.bmcast.util.Units;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bmcast controller}: runs the fleet controller until interrupted. */
@Command(name = "controller", mixinStandardHelpOptions = true,
        description = {"Run the fleet controller: REST API under /api/v1, dashboard at /, Prometheus metrics at /metrics.",
                "At first start it writes DATA/admin.token (the operator's) and DATA/join.token (for agents)."})
public final class ControllerCommand implements Callable<Integer> {

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:8080", converter = ListenConverter.class,
            description = "address to listen on (port 0: any free port; default: ${DEFAULT-VALUE})")
    Listen listen;

    @Option(names = "--data", paramLabel = "DIR", required = true,
            description = "directory for tokens, console logs and the embedded database")
    Path data;

    @Option(names = "--db", paramLabel = "JDBC_URL",
            description = "database (default: embedded H2 under DIR), e.g. jdbc:postgresql://HOST:5432/DB?user=U&password=P")
    String db;

    @Option(names = "--heartbeat-timeout", paramLabel = "DURATION", defaultValue = "5s", converter = DurationConverter.class,
            description = "a node not heard from for this long is offline (default: ${DEFAULT-VALUE})")
    Duration heartbeatTimeout;

    @Option(names = "--deadline-scheduled", paramLabel = "DURATION", defaultValue = "5m", converter = DurationConverter.class,
            description = "an instance its node has not taken within this fails (default: ${DEFAULT-VALUE})")
    Duration deadlineScheduled;

    @Option(names = "--deadline-starting", paramLabel = "DURATION", defaultValue = "15m", converter = DurationConverter.class,
            description = "an instance whose guest is not running within this fails (default: ${DEFAULT-VALUE})")
    Duration deadlineStarting;

    @Option(names = "--deadline-destroying", paramLabel = "DURATION", defaultValue = "15m", converter = DurationConverter.class,
            description = "a destroy its node has not begun within this fails, and the node with it; on an offline node it "
                    + "waits for the agent or destroy --force (default: ${DEFAULT-VALUE})")
    Duration deadlineDestroying;

    @Option(names = "--deadline-scrubbing", paramLabel = "DURATION", defaultValue = "24h", converter = DurationConverter.class,
            description = "a scrub not reported verified within this fails, and the node with it (default: ${DEFAULT-VALUE})")
    Duration deadlineScrubbing;

    @Option(names = "--tls-dir", paramLabel = "DIR",
            description = {"TLS files in QEMU's layout. With server-cert.pem and server-key.pem: HTTPS (TLS 1.2+) for the API and dashboard.",
                    "With ca-cert.pem (and client-cert.pem, client-key.pem if the image server verifies clients): reading nbds:// images."})
    Path tlsDir;

    @Option(names = "--max-body", paramLabel = "SIZE", defaultValue = "64K", converter = SizeConverter.class,
            description = "largest JSON request body; heartbeats may carry 256K or this, whichever is more (default: ${DEFAULT-VALUE})")
    long maxBody;

    @Option(names = "--max-upload", paramLabel = "SIZE", defaultValue = "1G", converter = SizeConverter.class,
            description = "largest image upload (kernel and initrd), the operator's only (default: ${DEFAULT-VALUE})")
    long maxUpload;

    @Option(names = "--console-keep", paramLabel = "SIZE", defaultValue = "1M", converter = SizeConverter.class,
            description = "each instance's console log keeps at most its last SIZE (default: ${DEFAULT-VALUE})")
    long consoleKeep;

    @Option(names = "--console-retention", paramLabel = "DURATION", defaultValue = "168h", converter = DurationConverter.class,
            description = "a deleted instance's console log is removed this long after (default: ${DEFAULT-VALUE})")
    Duration consoleRetention;

    @Option(names = "--event-retention", paramLabel = "DURATION", defaultValue = "168h", converter = DurationConverter.class,
            description = "events older than this are pruned (default: ${DEFAULT-VALUE})")
    Duration eventRetention;

    @Option(names = "--event-rows", paramLabel = "N", defaultValue = "1000000",
            description = "the event log keeps at most the newest N events (default: ${DEFAULT-VALUE})")
    long eventRows;

    @Option(names = "--event-replay", paramLabel = "N", defaultValue = "10000",
            description = "a resuming event stream is sent at most the newest N events it missed (default: ${DEFAULT-VALUE})")
    int eventReplay;

    @Option(names = "--streams-per-token", paramLabel = "N", defaultValue = "8",
            description = "live event streams one token may hold open (default: ${DEFAULT-VALUE})")
    int streamsPerToken;

    @Option(names = "--serialized",
            description = "the pre-Swift-Birth toolstack, for comparison: one launch at a time behind a global lock, image metadata read again per launch")
    boolean serialized;

    @Override
    public Integer call() throws Exception {
        quietLibraries();
        ControllerConfig config = ControllerConfig.defaults(data)
                .withListen(listen.host(), listen.port())
                .withJdbcUrl(db)
                .withHeartbeatTimeout(heartbeatTimeout)
                .withSerialized(serialized)
                .withDeadlines(new Deadlines(deadlineScheduled, deadlineStarting, deadlineDestroying, deadlineScrubbing))
                .withTlsDir(tlsDir == null ? null : tlsDir.toAbsolutePath());
        Controller controller;
        try {
            config = config.withLimits(Limits.DEFAULTS.withMaxJsonBody(maxBody).withMaxUpload(maxUpload)
                    .withConsole(consoleKeep, consoleRetention).withEvents(eventRetention, eventRows).withReplayMax(eventReplay)
                    .withStreamsPerToken(streamsPerToken));
            controller = Controller.start(config);
        } catch (java.io.IOException | io.bmcast.controller.store.StoreException | IllegalArgumentException e) {
            System.err.println("bmcast controller: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            controller.close();
            stopped.countDown();
        }, "controller-shutdown"));
        System.out.println("bmcast controller listening on " + controller.url() + " (API " + controller.url() + "/api/v1"
                + (serialized ? ", serialized" : "") + "); dashboard (a one-time link, 15 minutes; `bmcast token login` makes another): "
                + controller.loginUrl());
        if (!controller.https()) {
            System.err.println("bmcast controller: plain HTTP: tokens cross the network in the clear; give --tls-dir DIR"
                    + " with server-cert.pem and server-key.pem for HTTPS" + (tlsDir == null ? "" : " (" + tlsDir + " has no server-cert.pem)"));
        }
        System.out.flush();
        stopped.await();
        return 0;
    }

    /** A listen address. */
    public record Listen(String host, int port) {}

    /** {@code HOST:PORT} (port 0: any free one); also the demo's {@code --listen}. */
    public static final class ListenConverter implements CommandLine.ITypeConverter<Listen> {
        @Override
        public Listen convert(String hostPort) {
            int colon = hostPort.lastIndexOf(':');
            if (colon <= 0) throw new CommandLine.TypeConversionException("must be HOST:PORT, not '" + hostPort + "'");
            String host = hostPort.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
            String p = hostPort.substring(colon + 1);
            try {
                int port = Integer.parseInt(p);
                if (port < 0 || port > 65535) throw new NumberFormatException();
                return new Listen(host, port);
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("needs a port 0..65535 after the colon, not '" + p + "'");
            }
        }
    }

    static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String text) {
            try {
                return Units.parseSize(text);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String text) {
            try {
                long nanos = Units.parseDurationNanos(text);
                if (nanos <= 0) throw new IllegalArgumentException();
                return Duration.ofNanos(nanos);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException("must be a duration such as 5s or 500ms, not '" + text + "'");
            }
        }
    }

    /**
     * Jetty, Flyway and Hikari log their start at INFO; the one line above is what a person needs. Held here
     * because java.util.logging keeps loggers weakly: a level set on one nobody holds is forgotten.
     */
    private static final Logger[] QUIETED = {Logger.getLogger("org.eclipse.jetty"), Logger.getLogger("io.javalin"),
            Logger.getLogger("org.flywaydb"), Logger.getLogger("com.zaxxer.hikari")};

    /** Also for in-process controllers whose owner prints its own story (the demo, the benchmarks). */
    public static void quietLibraries() {
        for (Logger l : QUIETED) l.setLevel(Level.WARNING);
    }

    /** For running the controller alone ({@code java -cp ... io.bmcast.controller.ControllerCommand --data DIR}). */
    public static void main(String[] args) {
        System.exit(new CommandLine(new ControllerCommand()).execute(args));
    }
}
