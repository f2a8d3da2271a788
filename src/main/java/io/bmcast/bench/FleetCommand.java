package io.bmcast.bench;

import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bmcast bench fleet}: the options of a {@link FleetBench} run. */
@Command(name = "fleet", sortOptions = false,
        description = "The control plane at scale: hollow nodes on H2 and PostgreSQL, parallel against serialized, "
                + "and a real mini-fleet of busybox guests; tables, JSON and PNG chart.")
final class FleetCommand implements Callable<Integer> {
    static final List<String> DBS = List.of("h2", "postgres");
    static final List<String> MODES = List.of("parallel", "serialized");

    @Option(names = "--sizes", paramLabel = "N,...", split = ",", defaultValue = "1,10,100,1000",
            description = "How many hollow instances to launch at once (default ${DEFAULT-VALUE}).")
    List<Integer> sizes;

    @Option(names = "--db", paramLabel = "DB,...", split = ",", defaultValue = "h2,postgres",
            description = "Databases: h2, postgres (a private cluster the benchmark starts) (default ${DEFAULT-VALUE}).")
    List<String> dbs;

    @Option(names = "--modes", paramLabel = "MODE,...", split = ",", defaultValue = "parallel,serialized",
            description = "Controller modes: parallel (as shipped), serialized (pre-Swift-Birth) (default ${DEFAULT-VALUE}).")
    List<String> modes;

    @Option(names = "--ready-after", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "3s",
            description = "A hollow instance runs (streaming) this long after its node took it (default ${DEFAULT-VALUE}).")
    Duration readyAfter;

    @Option(names = "--local-after", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10s",
            description = "A hollow instance is devirtualized this long after its node took it (default ${DEFAULT-VALUE}).")
    Duration localAfter;

    @Option(names = "--repeat", paramLabel = "ROUNDS", defaultValue = "3",
            description = "Rounds of the whole set; medians and min-max are over them (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--serialized-max", paramLabel = "N", defaultValue = "100",
            description = "Largest N run in serialized mode (default ${DEFAULT-VALUE}).")
    int serializedMax;

    @Option(names = "--serialized-timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "120s",
            description = "Time box of one serialized launch; beyond it the row says \"> X s\" (default ${DEFAULT-VALUE}).")
    Duration serializedTimeout;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "120s",
            description = "Time box of one parallel launch (default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--no-real", description = "Skip the real mini-fleet (QEMU guests).")
    boolean noReal;

    @Option(names = "--machines", paramLabel = "K", defaultValue = "3",
            description = "Real agents in the mini-fleet (default ${DEFAULT-VALUE}).")
    int machines;

    @Option(names = "--disk-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "32G",
            description = "Each real agent's sparse disk (default ${DEFAULT-VALUE}).")
    long diskSize;

    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "1Gbit",
            description = "Rate of the emulated link to the image server (default ${DEFAULT-VALUE}).")
    long rate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "200us",
            description = "One-way latency of that link (default ${DEFAULT-VALUE}).")
    Duration latency;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the tables, JSON and chart go (default bench-results/fleet-TIME).")
    Path out;

    @Override
    public Integer call() throws Exception {
        return FleetBench.run(options());
    }

    FleetBench.Options options() {
        List<Integer> n = new ArrayList<>();
        for (int s : sizes) {
            if (s < 1 || s > io.bmcast.controller.InstanceLifecycle.MAX_COUNT) {
                throw new UsageException("--sizes: each N must be 1.." + io.bmcast.controller.InstanceLifecycle.MAX_COUNT + ", not " + s);
            }
            if (!n.contains(s)) n.add(s);
        }
        n.sort(Integer::compare);
        if (!n.contains(1)) n.addFirst(1); // every ratio is to N = 1
        List<String> d = pick("--db", dbs, DBS);
        List<String> m = pick("--modes", modes, MODES);
        if (rounds < 1) throw new UsageException("--repeat must be 1 or more");
        if (serializedMax < 1) throw new UsageException("--serialized-max must be 1 or more");
        if (machines < 1) throw new UsageException("--machines must be 1 or more");
        if (localAfter.compareTo(readyAfter) < 0) throw new UsageException("--local-after must not be shorter than --ready-after");
        Path dir = out != null ? out : Path.of("bench-results",
                "fleet-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        return new FleetBench.Options(List.copyOf(n), d, m, readyAfter.toNanos(), localAfter.toNanos(), rounds, serializedMax,
                serializedTimeout, timeout, !noReal, machines, diskSize, rate, latency.toNanos(), dir);
    }

    private static List<String> pick(String flag, List<String> given, List<String> known) {
        List<String> chosen = new ArrayList<>();
        for (String s : given) {
            s = s.strip();
            if (s.isEmpty()) continue;
            if (!known.contains(s)) throw new UsageException(flag + ": unknown '" + s + "' (" + String.join(",", known) + ")");
            if (!chosen.contains(s)) chosen.add(s);
        }
        if (chosen.isEmpty()) throw new UsageException(flag + ": none given");
        return chosen;
    }
}
