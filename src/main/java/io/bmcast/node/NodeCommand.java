package io.bmcast.node;

import io.bmcast.util.Args;
import io.bmcast.util.Signals;
import io.bmcast.util.UsageException;
import io.bmcast.mediator.Hydrator;
import io.bmcast.mediator.MediatedDisk;
import io.bmcast.mediator.MediatorOptions;
import io.bmcast.storage.DeferredExport;
import io.bmcast.storage.RemoteExport;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdClient;
import io.bmcast.transport.NbdOptionException;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * {@code bmcast node}: the mediator of one instance disk. It serves the disk over NBD on a Unix socket
 * (to the VMM), fetches regions from the image server on demand, hydrates the rest in the background,
 * and keeps its region map crash-safe in the state dir. It runs until SIGTERM; the VMM side decides when
 * the disk is de-virtualized and the mediator can go ({@link NodeState#markDevirtualized}).
 *
 * <p>{@code bmcast node status --state DIR} prints the state dir's progress as JSON.
 */
public final class NodeCommand {
    /** The export name the mediated disk is served under (also the default export). */
    public static final String EXPORT = "disk";

    private NodeCommand() {}

    public static int run(String[] argv) throws Exception {
        if (argv.length > 0 && argv[0].equals("status")) return status(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        Args a = new Args(argv);
        NbdUri image = a.parsed("image", NbdUri::parse);
        Path disk = Path.of(a.required("disk"));
        Path state = Path.of(a.required("state"));
        Path socket = Path.of(a.required("socket"));
        long regionSize = a.size("region-size", 64 << 10);
        long rate = a.rate("hydrate-rate", 0);
        long giveUp = a.durationNanos("give-up", Duration.ofSeconds(60).toNanos());
        String profile = a.string("boot-profile", null);
        a.done(0);
        PrintStream log = System.err;
        if (regionSize > Integer.MAX_VALUE) throw new UsageException("--region-size too large");

        NbdClient.Options clientOptions = NbdClient.Options.defaults().giveUpAfter(Duration.ofNanos(giveUp));
        // Resuming a state dir: the image's size is known, so serve what is local at once and let only reads
        // of missing regions wait for the image server. A fresh state needs the server for the size.
        long knownSize = MediatedDisk.recordedImageSize(state);
        Export source = knownSize < 0 ? connect(image, clientOptions, giveUp, log)
                : new DeferredExport(image.exportName(), knownSize, giveUp, () -> openOnce(image, clientOptions));
        MediatedDisk mediated;
        try {
            MediatorOptions options;
            try {
                options = MediatorOptions.of(EXPORT, NodeState.imageIdentity(image, source.size()))
                        .withRegionSize((int) regionSize);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            if (profile != null) options = options.withBootProfile(Path.of(profile));
            mediated = MediatedDisk.open(source, disk, state, options);
        } catch (IOException | RuntimeException e) {
            source.close();
            throw e;
        }
        mediated.startHousekeeping();
        Hydrator hydrator = new Hydrator(mediated, Hydrator.Options.defaults().withRate(rate));
        NbdServer server = new NbdServer(Map.of(EXPORT, mediated), NbdServer.Config.defaults().withDefaultExport(EXPORT));
        CountDownLatch stopped = new CountDownLatch(1);
        Signals.onTerminate(stopped::countDown);
        server.start(Listener.unix(socket));
        hydrator.start();
        log.printf("node: serving %s (%s, image %s in %d regions of %s, %d present) on %s from %s%n", disk,
                Units.formatSize(mediated.size()), Units.formatSize(mediated.imageSize()), mediated.regions(),
                Units.formatSize(mediated.regionSize()), mediated.regionsPresent(), socket, image);
        mediated.hydrated().thenRun(() -> log.printf("node: hydrated: every region of %s is local%n", disk));
        stopped.await();
        // Stop taking requests, stop copying, then commit the map (close syncs the data first) and go.
        server.close();
        hydrator.close();
        mediated.close();
        source.close();
        log.printf("node: stopped; %d of %d regions local%n", mediated.regionsPresent(), mediated.regions());
        return 0;
    }

    private static Export openOnce(NbdUri image, NbdClient.Options options) throws IOException {
        try {
            return RemoteExport.open(image, options);
        } catch (NbdOptionException e) {
            throw new DeferredExport.Permanent("the image server at " + image + " refused: " + e.getMessage(), e);
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
        long delayMs = 100;
        for (int attempt = 1; ; attempt++) {
            try {
                return RemoteExport.open(image, options);
            } catch (NbdOptionException e) {
                throw new IOException("the image server at " + image + " refused: " + e.getMessage(), e);
            } catch (IOException e) {
                // The client's own message is the socket's ("No such file or directory", "Connection refused"):
                // say which image server could not be reached.
                if (System.nanoTime() - start + delayMs * 1_000_000 > giveUpNs) {
                    throw new IOException("cannot reach the image server at " + image + " (" + attempt + " attempts in "
                            + (System.nanoTime() - start) / 1_000_000 + " ms): " + e.getMessage(), e);
                }
                if (attempt == 1) log.printf("node: cannot reach the image server at %s (%s); retrying%n", image, e.getMessage());
                Thread.sleep(delayMs);
                delayMs = Math.min(2000, delayMs * 2);
            }
        }
    }

    static int status(String[] argv) throws IOException {
        Args a = new Args(argv);
        Path state = Path.of(a.required("state"));
        a.done(0);
        if (!Files.isDirectory(state)) throw new UsageException("no state dir " + state);
        System.out.println(NodeState.statusJson(state));
        return 0;
    }
}
