package io.bmcast.imageserver;

import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.TlsCredentials;
import io.bmcast.util.UnitConverters.DurationConverter;
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

    void check() {
        if (tlsVerifyPeer && tlsDir == null) throw new UsageException("--tls-verify-peer needs --tls-dir DIR");
        if ((socket == null) == (listen == null)) throw new UsageException("give exactly one of --socket PATH or --listen HOST:PORT");
        if (listen != null && listen.lastIndexOf(':') < 0) throw new UsageException("--listen wants HOST:PORT, got '" + listen + "'");
    }

    LinkEmulator link() {
        return new LinkEmulator(rate == null ? null : TokenBucket.withDefaultBurst(rate), latency == null ? 0 : latency.toNanos());
    }

    /** Serves {@code exports} until the process is told to stop; returns the exit code. */
    int serve(Map<String, Export> exports, NbdServer.Config config, LinkEmulator link) throws Exception {
        configureLogging();
        NbdServer server = new NbdServer(exports, config);
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
