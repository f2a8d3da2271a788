package io.bmcast.controller;

import io.bmcast.controller.http.HttpApi;
import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.ImageRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.TokenRepository;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * The fleet controller, in-process: {@link #start} opens the database (migrating it), writes the token
 * files at first start, starts the reconciler and listens; {@link #close} stops all of it.
 *
 * <pre>
 *   try (Controller c = Controller.start(ControllerConfig.defaults(dir))) {
 *       String api = c.url() + "/api/v1";   // bearer c.adminToken() (operator) or c.joinToken() (agents)
 *   }
 * </pre>
 */
public final class Controller implements AutoCloseable {
    /** How long adding an image may wait for its image server before it is refused. */
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(3);
    /** How long a serialized launch holds the global lock waiting for an agent to take its instance. */
    static final Duration SERIALIZED_TAKE_TIMEOUT = Duration.ofSeconds(30);

    private final ControllerConfig config;
    private final Database db;
    private final Reconciler reconciler;
    private final HttpApi http;
    private final AccessTokens tokens;
    private final AgentGateway agents;

    private final Retention retention;

    private Controller(ControllerConfig config, Database db, Reconciler reconciler, HttpApi http, AccessTokens tokens, AgentGateway agents,
            Retention retention) {
        this.retention = retention;
        this.agents = agents;
        this.config = config;
        this.db = db;
        this.reconciler = reconciler;
        this.http = http;
        this.tokens = tokens;
    }

    public static Controller start(ControllerConfig config) throws IOException {
        Files.createDirectories(config.dataDir());
        LongSupplier clockMs = System::currentTimeMillis;
        LongSupplier monotonicMs = () -> System.nanoTime() / 1_000_000;
        Database db = Database.open(config.effectiveJdbcUrl());
        try {
            EventStreams streams = new EventStreams();
            db.onCommittedEvent(streams::publish);
            NodeRepository nodes = new NodeRepository(db.dialect());
            InstanceRepository instances = new InstanceRepository(db.dialect());
            ImageRepository imageRows = new ImageRepository();
            EventRepository events = new EventRepository(clockMs);
            AccessTokens tokens = new AccessTokens(db, new TokenRepository(), clockMs);
            tokens.initialize(config.dataDir());

            FleetMetrics metrics = new FleetMetrics();
            Liveness liveness = new Liveness();
            ProgressBoard progress = new ProgressBoard(metrics.bytesFetched());
            ConsoleLogs consoles = new ConsoleLogs(config.dataDir().resolve("console"), config.limits().consoleKeepBytes());
            Transitions transitions = new Transitions(db, instances, nodes, events, clockMs);
            NodeSignals signals = new NodeSignals();
            Scheduler scheduler = new Scheduler(db, nodes, instances, events, signals, clockMs);
            SerializedLaunches serialized = new SerializedLaunches(config.serialized(), SERIALIZED_TAKE_TIMEOUT);
            ImageCatalog images = new ImageCatalog(db, imageRows, instances, events, PROBE_TIMEOUT, clockMs)
                    .withTlsDir(config.tlsDir());
            images.moveLegacyBootFiles();
            Reconciler reconciler = new Reconciler(db, nodes, instances, transitions, scheduler, liveness, metrics,
                    progress, config.heartbeatTimeout().toMillis(), monotonicMs, events, config.deadlines(), clockMs);
            InstanceLifecycle lifecycle = new InstanceLifecycle(db, instances, nodes, events, images, scheduler, transitions,
                    progress, consoles, serialized, metrics, clockMs);
            AgentGateway agents = new AgentGateway(db, nodes, instances, events, transitions, images, progress, consoles,
                    liveness, serialized, metrics, reconciler::wake, signals, config.heartbeatInterval().toMillis(),
                    config.heartbeatTimeout().toMillis(), clockMs, monotonicMs)
                    .withTracker(new Tracker(db, new io.bmcast.controller.store.PeerRepository(), clockMs));
            FleetSummary summary = new FleetSummary(db, nodes, instances, liveness, metrics, clockMs);
            NodeAdmin nodeAdmin = new NodeAdmin(db, nodes, instances, events, transitions, liveness, signals, clockMs);
            EventFeed feed = new EventFeed(db, events, streams, config.limits(), clockMs);
            tokens.onRevoked(streams::revoke);
            Retention retention = new Retention(db, events, instances, consoles, progress, config.limits(), clockMs);
            metrics.tracked("progress", progress::size);
            metrics.tracked("console-offsets", () -> consoles.tracked().size());
            metrics.tracked("event-streams", streams::size);

            javax.net.ssl.SSLContext https = io.bmcast.transport.TlsCredentials.hasServerCertificate(config.tlsDir())
                    ? io.bmcast.transport.TlsCredentials.httpsServer(config.tlsDir()) : null;
            HttpApi http = HttpApi.start(config.host(), config.port(), https,
                    new HttpApi.Services(tokens, agents, lifecycle, images, summary, feed, metrics, nodeAdmin), config.limits());
            try {
                // Every known node gets a whole timeout from now, when its agent can first reach us: a slow
                // start (cold JVM, busy machine) must not count against nodes that were fine all along.
                liveness.grace(db.read(tx -> nodes.list(tx).stream().map(n -> n.name()).toList()), monotonicMs.getAsLong());
                reconciler.reconcile(); // gauges, and instances left pending, right from the start
                reconciler.start();
                retention.start();
            } catch (RuntimeException e) {
                http.close();
                throw e;
            }
            return new Controller(config, db, reconciler, http, tokens, agents, retention);
        } catch (IOException | RuntimeException e) {
            db.close();
            throw e;
        }
    }

    public int port() {
        return http.port();
    }

    /** {@code http://HOST:PORT} or {@code https://HOST:PORT}, no trailing slash. */
    public String url() {
        String host = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
        if (host.equals("0.0.0.0") || host.equals("[::]")) host = "127.0.0.1";
        return (https() ? "https://" : "http://") + host + ":" + port();
    }

    /** Whether it listens over HTTPS: {@code --tls-dir} holds a server certificate. */
    public boolean https() {
        return io.bmcast.transport.TlsCredentials.hasServerCertificate(config.tlsDir());
    }

    /** A link that opens the dashboard as the operator: a one-time code, good for a few minutes (a new one per call). */
    public String loginUrl() {
        return url() + tokens.operatorLoginCode().path();
    }

    public String adminToken() {
        return tokens.adminToken();
    }

    public String joinToken() {
        return tokens.joinToken();
    }

    /** Every HTTP endpoint as {@code METHOD /path}. Visible for testing (the OpenAPI document lists them all). */
    java.util.List<String> routes() {
        return http.routes();
    }

    /** Runs the retention sweep now. Visible for testing. */
    void sweep() {
        retention.sweep();
    }

    public ControllerConfig config() {
        return config;
    }

    @Override
    public void close() {
        agents.stopHolding();
        http.close();
        retention.close();
        reconciler.close();
        db.close();
    }
}
