package io.bmcast.node;

import io.bmcast.imagestore.ChunkSocketServer;
import io.bmcast.mediator.Hydrator;
import io.bmcast.mediator.ImageExtents;
import io.bmcast.mediator.MediatedDisk;
import io.bmcast.mediator.MediatorOptions;
import io.bmcast.mediator.YieldPolicy;
import io.bmcast.mediator.HydrationDeadline;
import io.bmcast.mediator.MediatorStatus;
import io.bmcast.mediator.Phase;
import io.bmcast.storage.DeferredExport;
import io.bmcast.storage.RemoteExport;
import io.bmcast.storage.RetryingExport;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdClient;
import io.bmcast.transport.NbdOptionException;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.NbdUri;
import io.bmcast.transport.TlsCredentials;
import io.bmcast.transport.TlsHandshakeException;
import io.bmcast.util.Signals;
import io.bmcast.util.UsageException;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One mediator's life, whoever started it ({@code bmcast node} from a shell, {@link MediatorMain} from
 * {@code instance run}): open the image and the local disk, serve the disk on the socket, hydrate in the
 * background, and on SIGTERM stop serving, commit the region map and return 0.
 */
public final class Mediator {
    /** The export the mediated disk is served under (also the default export). */
    public static final String EXPORT = "disk";

    private static final long REPORT_EVERY_NS = 5_000_000_000L;

    private Mediator() {}

    /** The client credentials an {@code nbds://} image is read with; null for a plaintext one. */
    private static TlsCredentials tls(MediatorConfig c) {
        if (!c.image().tls()) return null;
        if (c.tlsDir() == null) throw new UsageException("the image " + c.image() + " is served over TLS: give --tls-dir DIR (ca-cert.pem)");
        try {
            return TlsCredentials.client(c.tlsDir().toAbsolutePath());
        } catch (IOException e) {
            throw new UsageException("--tls-dir: " + e.getMessage());
        }
    }

    /** Runs until SIGTERM or SIGINT; returns the exit code. {@link UsageException}: settings that cannot work. */
    public static int run(MediatorConfig c, PrintStream log) throws IOException, InterruptedException {
        if (c.regionSize() > Integer.MAX_VALUE) throw new UsageException("--region-size is too large");
        long giveUp = c.giveUp().toNanos();
        ImageExtents extents = c.sourceExtents() == null ? null : ImageExtents.read(c.sourceExtents());
        Export source;
        String identity;
        StoreSource.Opened store = null;
        if (c.image().isStore()) {
            // The fetcher retries a failing store up to the give-up itself, and verifies every chunk before any
            // byte of it is returned: a region is marked present only with verified bytes.
            store = StoreSource.open(c, EXPORT, log);
            source = store.export();
            identity = store.identity();
        } else {
            NbdUri image = c.image().nbd();
            NbdClient.Options clientOptions = NbdClient.Options.defaults().giveUpAfter(c.giveUp()).tls(tls(c));
            // Resuming a state dir: the image's size is known, so serve what is local at once and let only reads
            // of missing regions wait for the image server. A fresh state needs the server for the size.
            long knownSize = MediatedDisk.recordedImageSize(c.state());
            if (knownSize >= 0 && !NodeState.imageIdentity(image, knownSize).equals(MediatedDisk.recordedImageIdentity(c.state()))) {
                // Another image's state dir: it will be refused, but only the image server knows this image's size.
                knownSize = -1;
            }
            // A read the image server fails (EIO now and then) is retried up to the same give-up time.
            source = new RetryingExport(knownSize < 0 ? connect(image, clientOptions, giveUp, log)
                    : new DeferredExport(image.exportName(), knownSize, giveUp, () -> openOnce(image, clientOptions)), giveUp);
            identity = NodeState.imageIdentity(image, source.size());
        }
        String image = c.image().display();
        MediatedDisk mediated;
        try {
            MediatorOptions options;
            try {
                options = MediatorOptions.of(EXPORT, identity)
                        .withRegionSize((int) c.regionSize());
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            if (c.bootProfile() != null) options = options.withBootProfile(c.bootProfile());
            if (extents != null && extents.size() != source.size()) {
                throw new IOException("--source-extents " + c.sourceExtents() + " describes an image of " + extents.size()
                        + " bytes, but " + image + " is " + source.size() + " bytes");
            }
            if (extents != null) options = options.withSourceExtents(extents);
            mediated = MediatedDisk.open(source, c.disk(), c.state(), options);
            if (store != null) {
                store.keep(c.state());
                mediated.reportSources(store::sources);
            }
        } catch (IOException | RuntimeException e) {
            source.close();
            throw e;
        }
        if (mediated.regionsPresent() == 0 && !c.allowLowSpace()) {
            // Nothing streamed yet (a fresh deployment, or one refused before): refuse now rather than stall half-way.
            // A deployment under way is never refused: its mediator restarts on the state it has.
            String low;
            try {
                low = mediated.lowSpace();
            } catch (IOException | RuntimeException e) {
                low = null; // block status unavailable: the copy will tell
            }
            if (low != null) {
                mediated.close();
                source.close();
                throw new IOException(low + "; free space there, or give --allow-low-space to start anyway");
            }
        }
        // The node's peer server asks this deployment for the chunks of members below it: served from here on.
        ChunkSocketServer chunkSocket = null;
        if (store != null && c.store().chunkSocket() != null) {
            try {
                chunkSocket = ChunkSocketServer.start(c.store().chunkSocket(), store.export().fetcher()::serve);
            } catch (IOException e) {
                mediated.close();
                source.close();
                throw e;
            }
            log.printf("node: serving this deployment's chunks to the node's peer server on %s%n", chunkSocket.path());
        }
        NodeState.recordPid(c.state());
        // The hydrator first: it tells the disk its share before the housekeeper writes the first status.
        Hydrator hydrator = c.hydration().background() ? new Hydrator(mediated, hydratorOptions(c)) : null;
        mediated.startHousekeeping();
        NbdServer server = new NbdServer(Map.of(EXPORT, mediated), NbdServer.Config.defaults().withDefaultExport(EXPORT));
        CountDownLatch stopped = new CountDownLatch(1);
        Signals.onTerminate(stopped::countDown);
        server.start(Listener.unix(c.socket()));
        if (hydrator != null) hydrator.start();
        log.printf("node: serving %s (%s, image %s in %d regions of %s, %d present) on %s from %s%n", c.disk(),
                Units.formatSize(mediated.size()), Units.formatSize(mediated.imageSize()), mediated.regions(),
                Units.formatSize(mediated.regionSize()), mediated.regionsPresent(), c.socket(), image);
        mediated.hydrated().thenRun(() -> log.printf("node: hydrated: every region of %s is local%n", c.disk()));
        if (hydrator == null) log.printf("node: remote-only: no background copy; the disk keeps only what the guest reads%n");
        Phase shown = Phase.STREAMING;
        while (!stopped.await(1, TimeUnit.SECONDS)) {
            // Say in the log when the copy stalls and why (a full local disk, a failing image server), and when it goes on.
            MediatorStatus st = mediated.status(System.nanoTime());
            if (st.phase() != shown && (st.phase() == Phase.STALLED || st.phase() == Phase.FAILED)) {
                log.printf("node: %s: %s%n", st.phase().name().toLowerCase(java.util.Locale.ROOT), st.lastError());
            } else if (st.phase() == Phase.STREAMING && shown == Phase.STALLED) {
                log.printf("node: streaming again%n");
            }
            shown = st.phase();
        }
        // Stop taking requests, stop copying, then commit the map (close syncs the data first) and go.
        server.close();
        if (chunkSocket != null) chunkSocket.close();
        if (hydrator != null) hydrator.close();
        mediated.close();
        source.close();
        log.printf("node: stopped; %d of %d regions local%n", mediated.regionsPresent(), mediated.regions());
        if (store != null) {
            MediatorStatus.Sources src = store.sources();
            log.printf("node: chunks: %d verified, %d rejected; stored bytes from cache %d, peers %d, store %d%n",
                    src.chunksVerified(), src.chunksRejected(), src.bytesFromCache(), src.bytesFromPeers(), src.bytesFromStore());
        }
        return 0;
    }

    /** The background copy's policy: guest I/O first, but at least the configured share while the guest is busy. */
    private static Hydrator.Options hydratorOptions(MediatorConfig c) throws IOException {
        Hydrator.Options o = Hydrator.Options.defaults().withRate(c.hydrateRate());
        MediatorConfig.Hydration h = c.hydration();
        Instant now = Instant.now();
        Instant first = DeploymentClock.firstStart(c.state(), now);
        long deadlineNs = h.by() == null ? Long.MIN_VALUE : DeploymentClock.deadlineNanoTime(first, h.by(), now, System.nanoTime());
        return o.withYieldPolicy(YieldPolicy.share(h.share(), Hydrator.QUIET_NS)).withDeadline(h.by() == null ? null
                : new HydrationDeadline(deadlineNs, first.plus(h.by()).toEpochMilli()));
    }

    private static Export openOnce(NbdUri image, NbdClient.Options options) throws IOException {
        try {
            return RemoteExport.open(image, options);
        } catch (NbdOptionException e) {
            throw new DeferredExport.Permanent("the image server at " + image + " refused: " + e.getMessage(), e);
        } catch (TlsHandshakeException e) {
            throw new DeferredExport.Permanent(e.getMessage(), e);
        }
    }

    /**
     * Connects to the image server, waiting for it up to {@code giveUpNs} as a running mediator waits for a
     * reconnect: a mediator restarted under a running guest while the image server is down (both crashed, or
     * the server is being restarted) must come up once the server does, not exit and take the guest with it.
     * A server that answers and refuses (no such export) is not waited for.
     */
    static RemoteExport connect(NbdUri image, NbdClient.Options options, long giveUpNs, PrintStream log)
            throws IOException, InterruptedException {
        long start = System.nanoTime();
        long nextReportNs = 0;
        long delayMs = 100;
        for (int attempt = 1; ; attempt++) {
            try {
                return RemoteExport.open(image, options);
            } catch (NbdOptionException e) {
                throw new IOException("the image server at " + image + " refused: " + e.getMessage(), e);
            } catch (TlsHandshakeException e) {
                throw new IOException(e.getMessage(), e); // a certificate that does not verify will not verify later
            } catch (IOException e) {
                // The client's own message is the socket's ("No such file or directory", "Connection refused"):
                // say which image server could not be reached, and keep saying so while retrying.
                long elapsed = System.nanoTime() - start;
                if (elapsed + delayMs * 1_000_000 > giveUpNs) {
                    throw new IOException("cannot reach the image server at " + image + ": " + reason(e) + "; gave up after "
                            + seconds(elapsed) + " (" + attempt + " attempts)", e);
                }
                if (elapsed >= nextReportNs) {
                    log.printf("node: cannot reach the image server at %s: %s; retrying (%s of %s)%n", image, reason(e),
                            seconds(elapsed), seconds(giveUpNs));
                    nextReportNs += REPORT_EVERY_NS;
                }
                Thread.sleep(delayMs);
                delayMs = Math.min(2000, delayMs * 2);
            }
        }
    }

    private static String seconds(long ns) {
        return Math.round(ns / 1e9) + " s";
    }

    /** "Connection refused" as "connection refused", to sit inside a sentence. */
    private static String reason(IOException e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) return e.getClass().getSimpleName();
        return Character.toLowerCase(m.charAt(0)) + m.substring(1);
    }
}
