package io.bmcast.imageserver;

import io.bmcast.storage.FaultInjectingExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.TlsCredentials;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.FractionConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UsageException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Where and how {@code image-server} and {@code serve-file} serve: the listening address and the emulated
 * link. {@link #serve} prints one line saying what is served where, serves until SIGTERM or SIGINT, then
 * shuts down cleanly.
 */
final class ServeOptions {
    @Option(names = "--socket", paramLabel = "PATH", description = "Listen on this Unix socket.")
    Path socket;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Listen on TCP (':PORT' for every interface, port 0 picks one).")
    String listen;

    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class,
            description = "Emulate a link of this rate for all connections together: 200Mbit, 1Gbit, 125MB/s.")
    Long rate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Add this one-way latency to every reply: 200us, 1ms.")
    Duration latency;

    @Option(names = "--tls-dir", paramLabel = "DIR",
            description = "Require TLS (NBD STARTTLS) with the X.509 files in DIR, QEMU's layout: ca-cert.pem, server-cert.pem, server-key.pem.")
    Path tlsDir;

    @Option(names = "--tls-verify-peer", description = "With --tls-dir: also require a client certificate signed by DIR/ca-cert.pem.")
    boolean tlsVerifyPeer;

    @Option(names = "--handshake-timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10s",
            description = "Disconnect a client that has not finished the handshake this long after connecting (default: ${DEFAULT-VALUE}).")
    Duration handshakeTimeout;

    @Option(names = "--idle-timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Disconnect a client that sent nothing and has nothing in flight for this long, or reads no reply "
                    + "for this long (0s: never; image-server: 10m, serve-file: never).")
    Duration idleTimeout;

    @Option(names = "--max-connections", paramLabel = "N", defaultValue = "1024",
            description = "Connections at once; one more is closed as soon as it is accepted (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--max-in-flight", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "256M",
            description = "Buffer memory for requests in flight, all connections together, at least 64M (default: ${DEFAULT-VALUE}).")
    long maxInFlight;

    @Option(names = "--max-requests", paramLabel = "N", defaultValue = "4096",
            description = "Requests in flight, all connections together (default: ${DEFAULT-VALUE}).")
    int maxRequests;

    @Option(names = "--inject-errors", paramLabel = "RATE", converter = FractionConverter.class,
            description = "Fault injection: fail this fraction of requests with EIO (0.01 or 1%%).")
    Double injectErrors;

    @Option(names = "--inject-delay", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Fault injection: hold requests this long first (every request, or --inject-delay-rate of them).")
    Duration injectDelay;

    @Option(names = "--inject-delay-rate", paramLabel = "RATE", converter = FractionConverter.class,
            description = "Fault injection: the fraction of requests --inject-delay holds (default: all).")
    Double injectDelayRate;

    @Option(names = "--inject-stall", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Fault injection: answer nothing for this long, starting --inject-stall-after after the first request.")
    Duration injectStall;

    @Option(names = "--inject-stall-after", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "0s",
            description = "Fault injection: when the stall starts, counted from the first request (default: ${DEFAULT-VALUE}).")
    Duration injectStallAfter;

    @Option(names = "--inject-seed", paramLabel = "N", defaultValue = "1",
            description = "Fault injection: seed of the random draws (default: ${DEFAULT-VALUE}).")
    long injectSeed;

    void check() {
        if (tlsVerifyPeer && tlsDir == null) throw new UsageException("--tls-verify-peer needs --tls-dir DIR");
        if ((socket == null) == (listen == null)) throw new UsageException("give exactly one of --socket PATH or --listen HOST:PORT");
        if (listen != null && listen.lastIndexOf(':') < 0) throw new UsageException("--listen wants HOST:PORT, got '" + listen + "'");
    }

    /** The server's limits; {@code defaultIdle} when --idle-timeout is not given. */
    NbdServer.Limits limits(Duration defaultIdle) {
        Duration idle = idleTimeout != null ? idleTimeout : defaultIdle;
        if (handshakeTimeout.isZero() || handshakeTimeout.isNegative()) throw new UsageException("--handshake-timeout must be longer than 0s");
        if (idle.isNegative()) throw new UsageException("--idle-timeout must not be negative");
        if (maxConnections < 1) throw new UsageException("--max-connections must be at least 1");
        if (maxInFlight < 64L << 20) throw new UsageException("--max-in-flight must be at least 64M (one request may carry 32M)");
        if (maxRequests < 1) throw new UsageException("--max-requests must be at least 1");
        try {
            return new NbdServer.Limits(handshakeTimeout.toNanos(), idle.toNanos(), maxConnections, maxInFlight, maxRequests);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** The faults to inject, or null for none. */
    FaultInjectingExport.Faults faults() {
        if (injectDelayRate != null && injectDelay == null) throw new UsageException("--inject-delay-rate needs --inject-delay");
        FaultInjectingExport.Faults f = FaultInjectingExport.Faults.none().withSeed(injectSeed);
        if (injectErrors != null) f = f.withErrors(injectErrors);
        if (injectDelay != null) f = f.withSpikes(injectDelayRate == null ? 1 : injectDelayRate, injectDelay);
        if (injectStall != null) f = f.withStall(injectStallAfter, injectStall);
        return f.isNone() ? null : f;
    }

    /** Puts every export behind the fault injection, when there is some to do. */
    Map<String, Export> withFaults(Map<String, Export> exports) {
        FaultInjectingExport.Faults f = faults();
        if (f == null) return exports;
        Map<String, Export> out = new java.util.LinkedHashMap<>();
        exports.forEach((name, e) -> out.put(name, new FaultInjectingExport(e, f)));
        return out;
    }

    LinkEmulator link() {
        return new LinkEmulator(rate == null ? null : TokenBucket.withDefaultBurst(rate), latency == null ? 0 : latency.toNanos());
    }

    /** Serves {@code exports} until the process is told to stop; returns the exit code. */
    int serve(Map<String, Export> exports, NbdServer.Config config, LinkEmulator link) throws Exception {
        configureLogging();
        NbdServer server = new NbdServer(withFaults(exports), config);
        if (tlsDir != null) {
            try {
                server.requireTls(TlsCredentials.server(tlsDir, tlsVerifyPeer));
            } catch (java.io.IOException e) {
                server.close();
                throw new UsageException("--tls-dir: " + e.getMessage());
            }
        }
        Listener listener;
        try {
            listener = socket != null ? Listener.unix(socket) : Listener.tcp(listen);
        } catch (IllegalArgumentException e) {
            server.close();
            throw new UsageException("--listen: " + e.getMessage());
        } catch (Exception e) {
            server.close();
            throw e;
        }
        server.start(listener);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "nbd-shutdown"));
        StringBuilder line = new StringBuilder("serving ");
        boolean first = true;
        for (var e : exports.entrySet()) {
            if (!first) line.append(", ");
            first = false;
            line.append("'").append(e.getKey()).append("' (").append(e.getValue().size()).append(" bytes")
                    .append(e.getValue().readOnly() ? ", read-only" : ", writable").append(")");
        }
        line.append(" on ").append(listener);
        if (config.defaultExport() != null) line.append(" (also as the default export)");
        if (!link.isIdentity()) line.append(" with ").append(link);
        if (tlsDir != null) line.append(", TLS required").append(tlsVerifyPeer ? " with client certificates" : "");
        if (faults() != null) line.append(", injecting faults: ").append(faults());
        System.out.println(line);
        System.out.flush();
        server.awaitClosed();
        return 0;
    }

    /** One line per log record on stderr, unless the user configured logging. */
    private static void configureLogging() {
        if (System.getProperty("java.util.logging.config.file") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %5$s%6$s%n");
        }
    }
}
