package io.bmcast.node;

import io.bmcast.util.Signals;
import io.bmcast.util.UsageException;
import io.bmcast.mediator.Hydrator;
import io.bmcast.mediator.ImageExtents;
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
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bmcast node}: the mediator of one instance disk. It serves the disk over NBD on a Unix socket
 * (to the VMM), fetches regions from the image server on demand, hydrates the rest in the background,
 * and keeps its region map crash-safe in the state dir. It runs until SIGTERM; the VMM side decides when
 * the disk is de-virtualized and the mediator can go ({@link NodeState#markDevirtualized}).
 *
 * <p>{@code bmcast node status --state DIR} prints the state dir's progress as JSON.
 */
@Command(name = "node", sortOptions = false, subcommands = NodeCommand.Status.class,
        description = "The mediator: serve the instance disk on SOCKET, fetching from the image on demand and "
                + "copying the rest in the background. Runs until SIGTERM.")
public final class NodeCommand implements Callable<Integer> {
    /** The export name the mediated disk is served under (also the default export). */
    public static final String EXPORT = "disk";

    @Option(names = "--image", paramLabel = "URI", converter = NbdUriConverter.class,
            description = "The image on the image server: nbd://HOST:PORT/NAME or nbd+unix:///NAME?socket=PATH.")
    NbdUri image;

    @Option(names = "--disk", paramLabel = "PATH", description = "The local disk (file or block device) the image is copied to.")
    Path disk;

    @Option(names = "--state", paramLabel = "DIR", description = "The mediator's state: region map, status.json.")
    Path state;

    @Option(names = "--socket", paramLabel = "PATH", description = "The Unix socket the VMM connects to.")
    Path socket;

    @Option(names = "--region-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "64K",
            description = "Unit of copying and of the region map (default ${DEFAULT-VALUE}).")
    long regionSize;

    @Option(names = "--hydrate-rate", paramLabel = "RATE", converter = RateConverter.class,
            description = "Cap the background copy, e.g. 200Mbit (default: no cap).")
    Long hydrateRate;

    @Option(names = "--give-up", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "60s",
            description = "How long to keep trying an unreachable image server (default ${DEFAULT-VALUE}).")
    Duration giveUp;

    @Option(names = "--boot-profile", paramLabel = "FILE", description = "Fetch the regions a recorded boot read first.")
    Path bootProfile;

    @Option(names = "--source-extents", paramLabel = "FILE",
            description = "The image's data extents as the control plane caches them ({\"size\": N, \"extents\": [[offset, length], ...]}), trusted instead of asking the image server for block status.")
    Path extentsFile;

    /** {@code bmcast node status --state DIR}. */
    @Command(name = "status", description = "Print the mediator's progress in a state dir as JSON.")
    static final class Status implements Callable<Integer> {
        @Option(names = "--state", paramLabel = "DIR", required = true, description = "The mediator's state dir.")
        Path state;

        @Override
        public Integer call() throws IOException {
            if (!Files.isDirectory(state)) throw new UsageException("no state dir " + state);
            System.out.print(NodeState.statusJson(state));
            return 0;
        }
    }

    @Override
    public Integer call() throws Exception {
        List<String> missing = new ArrayList<>();
        if (image == null) missing.add("--image URI");
        if (disk == null) missing.add("--disk PATH");
        if (state == null) missing.add("--state DIR");
        if (socket == null) missing.add("--socket PATH");
        if (!missing.isEmpty()) throw new UsageException("node needs " + String.join(", ", missing) + " (or a sub-command: status)");
        if (regionSize > Integer.MAX_VALUE) throw new UsageException("--region-size is too large");
        long rate = hydrateRate == null ? 0 : hydrateRate;
        long giveUp = this.giveUp.toNanos();
        Path profile = bootProfile;
        PrintStream log = System.err;
        if (regionSize > Integer.MAX_VALUE) throw new UsageException("--region-size too large");
        ImageExtents extents = extentsFile == null ? null : ImageExtents.read(extentsFile);

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
            if (profile != null) options = options.withBootProfile(profile);
            if (extents != null && extents.size() != source.size()) {
                throw new IOException("--source-extents " + extentsFile + " describes an image of " + extents.size()
                        + " bytes, but " + image + " is " + source.size() + " bytes");
            }
            if (extents != null) options = options.withSourceExtents(extents);
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
        long nextReportNs = 0;
        long delayMs = 100;
        for (int attempt = 1; ; attempt++) {
            try {
                return RemoteExport.open(image, options);
            } catch (NbdOptionException e) {
                throw new IOException("the image server at " + image + " refused: " + e.getMessage(), e);
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

    private static final long REPORT_EVERY_NS = 5_000_000_000L;

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
