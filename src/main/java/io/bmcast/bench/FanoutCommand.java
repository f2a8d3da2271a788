package io.bmcast.bench;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.imagestore.Manifest;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bmcast bench fanout}: the options of a {@link FanoutBench} run. */
@Command(name = "fanout", sortOptions = false,
        description = "N deployments of one image at once from an S3 store behind one emulated link, with and without peers: "
                + "store egress, p50/p99 time to ready (a boot replayed at its recorded pace), stall (what bmcast added to it) and time to "
                + "local; table, JSON and PNG charts.")
final class FanoutCommand implements Callable<Integer> {
    @Option(names = "--nodes", paramLabel = "N,...", split = ",", defaultValue = "1,10,50,100",
            description = "Fleet sizes to launch (default ${DEFAULT-VALUE}).")
    List<Integer> nodes;

    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "1Gbit",
            description = "The store's link, shared by every node (default ${DEFAULT-VALUE}).")
    long rate;

    @Option(names = "--node-rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "10Gbit",
            description = "Each node's uplink and downlink (default ${DEFAULT-VALUE}).")
    long nodeRate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "1ms",
            description = "Latency of each store request (default ${DEFAULT-VALUE}).")
    Duration latency;

    @Option(names = "--peers", paramLabel = "on,off", split = ",", defaultValue = "on,off",
            description = "Peer modes to run (default ${DEFAULT-VALUE}).")
    List<String> peers;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "Runs of each mode, interleaved; the table shows medians with min-max (default ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the table, JSON and charts go (default bench-results/fanout-TIME).")
    Path out;

    @Option(names = "--inject-corrupt", paramLabel = "RATE", defaultValue = "0",
            description = "Share of the store's and every peer's answers with a flipped byte, e.g. 0.01 (default none).")
    double injectCorrupt;

    @Option(names = "--store-concurrency", paramLabel = "N", defaultValue = "4",
            description = "Each node's cap on store requests at once (default ${DEFAULT-VALUE}).")
    int storeConcurrency;

    @Option(names = "--prefetch", paramLabel = "N", defaultValue = "4",
            description = "Chunks each node's hydrator keeps in flight, boot-profile order first (default ${DEFAULT-VALUE}).")
    int prefetch;

    @Option(names = "--pace", paramLabel = "recorded|none", defaultValue = "recorded",
            description = "recorded: each node replays the boot at the guest's own pace (its compute between reads kept), "
                    + "so ready is a boot and stall what bmcast added; none: the reads back to back, a stress figure "
                    + "(default ${DEFAULT-VALUE}).")
    String pace;

    @Option(names = "--guest", paramLabel = "KIND", defaultValue = "busybox",
            description = "The sample guest to push and trace (default ${DEFAULT-VALUE}).")
    String guest;

    @Option(names = "--image", paramLabel = "FILE", description = "Push this image instead of the sample guest (needs --trace).")
    Path image;

    @Option(names = "--trace", paramLabel = "FILE", description = "A boot profile to replay instead of the guest's recorded "
            + "one (BMCPROF2; a BMCPROF1 one has no times, so only with --pace none).")
    Path trace;

    @Option(names = "--chunk-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "1M",
            description = "Chunk size of the pushed image (default ${DEFAULT-VALUE}).")
    long chunkSize;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10m",
            description = "How long one launch may take to ready, and then to local (default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        FanoutBench.Options o = options();
        if (image != null && trace == null) throw new UsageException("--image needs --trace (a boot profile of that image)");
        Path img;
        String source;
        BootTrace t;
        if (image != null) {
            if (!Files.isRegularFile(image)) throw new UsageException("--image: no such file: " + image);
            img = image;
            source = image.getFileName().toString();
            t = BootTrace.load(trace, false);
            checkPace(o, t);
        } else {
            GuestKind kind;
            try {
                kind = GuestKind.parse(guest);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--guest: " + e.getMessage());
            }
            GuestBuilder builder = new GuestBuilder(kind, 0);
            System.err.println("fanout: guest " + kind.id() + " in " + builder.defaultDir() + " (building if needed)");
            GuestImage g = builder.build(builder.defaultDir());
            img = g.disk();
            source = kind.id() + " guest";
            t = trace != null ? BootTrace.load(trace, false) : BootTrace.of(g, o.timeout());
            checkPace(o, t);
            System.err.println("fanout: boot trace " + t.file() + " (" + t.reads().size() + " reads; "
                    + (t.recorded() ? "1 real guest ran to record the trace" : "recorded by a real guest earlier, reused")
                    + (t.timed() ? String.format(java.util.Locale.ROOT, "; the boot took %.2f s)", t.durationSeconds()) : ")"));
        }
        Path work = Files.createTempDirectory("bmcast-fanout-");
        try {
            return FanoutBench.run(o, img, t, source, work);
        } finally {
            BenchImageServer.removeTree(work, "fanout");
        }
    }

    private static void checkPace(FanoutBench.Options o, BootTrace t) {
        if (o.pace() == FanoutBench.Pace.RECORDED && !t.timed()) {
            throw new UsageException("--trace " + t.file() + " records no times (BMCPROF1): replay it with --pace none");
        }
    }

    FanoutBench.Options options() {
        List<Integer> n = new ArrayList<>();
        for (int x : nodes) {
            if (x < 1 || x > 1000) throw new UsageException("--nodes: each N must be from 1 to 1000: " + x);
            if (!n.contains(x)) n.add(x);
        }
        List<Boolean> p = new ArrayList<>();
        for (String s : peers) {
            Boolean b = switch (s.strip()) {
                case "on" -> Boolean.TRUE;
                case "off" -> Boolean.FALSE;
                default -> throw new UsageException("--peers: 'on' or 'off', not '" + s + "'");
            };
            if (!p.contains(b)) p.add(b);
        }
        if (n.isEmpty() || p.isEmpty()) throw new UsageException("--nodes and --peers need at least one value");
        if (repeat < 1) throw new UsageException("--repeat must be 1 or more");
        if (!(injectCorrupt >= 0 && injectCorrupt < 1)) throw new UsageException("--inject-corrupt must be from 0 to below 1");
        if (storeConcurrency < 1 || prefetch < 1) throw new UsageException("--store-concurrency and --prefetch must be 1 or more");
        if (Long.bitCount(chunkSize) != 1 || chunkSize < Manifest.MIN_CHUNK || chunkSize > 4 << 20) {
            throw new UsageException("--chunk-size must be a power of two from 64K to 4M");
        }
        FanoutBench.Pace paced = switch (pace.strip()) {
            case "recorded" -> FanoutBench.Pace.RECORDED;
            case "none" -> FanoutBench.Pace.NONE;
            default -> throw new UsageException("--pace: 'recorded' or 'none', not '" + pace + "'");
        };
        Path dir = out != null ? out : Path.of("bench-results",
                "fanout-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        return new FanoutBench.Options(n, p, rate, nodeRate, latency.toNanos(), repeat, dir, injectCorrupt, storeConcurrency,
                prefetch, (int) chunkSize, timeout, paced);
    }
}
