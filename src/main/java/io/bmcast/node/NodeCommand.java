package io.bmcast.node;

import io.bmcast.imagestore.ImageUri;
import io.bmcast.util.UsageException;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bmcast node}: the mediator of one instance disk. It serves the disk over NBD on a Unix socket
 * (to the VMM), fetches regions from the image server on demand, hydrates the rest in the background,
 * and keeps its region map crash-safe in the state dir. It runs until SIGTERM; the VMM side decides when
 * the disk is de-virtualized and the mediator can go ({@link NodeState#markDevirtualized}). The work is
 * {@link Mediator}'s; this class is the command line a person types. {@code instance run} starts its mediator
 * without one ({@link MediatorMain}).
 *
 * <p>{@code bmcast node status --state DIR} prints the state dir's progress as JSON.
 */
@Command(name = "node", sortOptions = false, subcommands = NodeCommand.Status.class,
        description = "The mediator: serve the instance disk on SOCKET, fetching from the image on demand and "
                + "copying the rest in the background. Runs until SIGTERM.")
public final class NodeCommand implements Callable<Integer> {
    @Option(names = "--image", paramLabel = "URI", converter = ImageUriConverter.class,
            description = "The image: on an image server, nbd://HOST:PORT/NAME or nbd+unix:///NAME?socket=PATH; in an object store, s3://BUCKET/PREFIX/NAME.")
    ImageUri image;

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

    @Mixin
    HydrationOptions hydration;

    @Mixin
    StoreOptions store;

    @Option(names = "--give-up", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "60s",
            description = "How long to keep trying an unreachable image server or store (default ${DEFAULT-VALUE}).")
    Duration giveUp;

    @Option(names = "--boot-profile", paramLabel = "FILE", description = "Fetch the regions a recorded boot read first.")
    Path bootProfile;

    @Option(names = "--source-extents", paramLabel = "FILE",
            description = "The image's data extents as the control plane caches them ({\"size\": N, \"extents\": [[offset, length], ...]}), trusted instead of asking the image server for block status.")
    Path extentsFile;

    @Option(names = "--tls-dir", paramLabel = "DIR",
            description = "For an nbds:// image: the CA that signs the image server's certificate (DIR/ca-cert.pem), and DIR/client-cert.pem, client-key.pem if it verifies clients.")
    Path tlsDir;

    @Option(names = "--allow-low-space",
            description = "Start even when the local disk's file system has less free space than the image's data needs (the copy then pauses when it fills, until space is freed).")
    boolean allowLowSpace;

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
        return Mediator.run(new MediatorConfig(store.apply(image), disk, state, socket, regionSize, hydrateRate == null ? 0 : hydrateRate,
                giveUp, bootProfile, extentsFile, hydration.hydration(), tlsDir, allowLowSpace, store.store()), System.err);
    }
}
