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

/** {@code bmcast bench workload}: the options of a {@link WorkloadBench} run. */
@Command(name = "workload", sortOptions = false,
        description = "A database (pgbench) and fio inside the guest over one emulated link: local disk, bmcast "
                + "(during deployment, after de-virtualization), remote-only; table, JSON and PNG of throughput over time.")
final class WorkloadCommand implements Callable<Integer> {
    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "1Gbit",
            description = "Rate of the emulated link (default ${DEFAULT-VALUE}).")
    long rate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "200us",
            description = "One-way latency of the emulated link (default ${DEFAULT-VALUE}).")
    Duration latency;

    @Option(names = "--duration", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "60s",
            description = "How long pgbench runs in each boot (default ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--fio-duration", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10s",
            description = "How long each of fio's three jobs runs in each boot (default ${DEFAULT-VALUE}).")
    Duration fioDuration;

    @Option(names = "--modes", paramLabel = "MODE,...", split = ",",
            description = "Modes, in order within each round (default all: local,bmcast,remote-only).")
    List<String> modes;

    @Option(names = "--workloads", paramLabel = "NAME,...", split = ",",
            description = "Workloads (default both: pgbench,fio).")
    List<String> workloads;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "Rounds; each runs every workload in every mode, interleaved (default ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--app-data", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "0",
            description = "Data in the image that the workload never reads, to make deployment longer (default none).")
    long appData;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the table, JSON and chart go (default bench-results/workload-TIME).")
    Path out;

    @Option(names = "--ready-timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "5m",
            description = "How long a boot may take before its workload starts (default ${DEFAULT-VALUE}).")
    Duration readyTimeout;

    @Option(names = "--region-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "64K",
            description = "bmcast's region size (default ${DEFAULT-VALUE}).")
    long regionSize;

    @Option(names = "--hydrate-share", paramLabel = "FRACTION", defaultValue = "0.2",
            description = "bmcast's least share of the link for the background copy while the guest is busy "
                    + "(default ${DEFAULT-VALUE}).")
    double hydrateShare;

    @Override
    public Integer call() throws Exception {
        return WorkloadBench.run(options());
    }

    WorkloadBench.Options options() {
        List<String> chosenModes = choose("--modes", modes, WorkloadBench.ALL_MODES);
        List<String> chosenWorkloads = choose("--workloads", workloads, WorkloadBench.ALL_WORKLOADS);
        if (repeat < 1) throw new UsageException("--repeat must be 1 or more");
        if (duration.toSeconds() < 1 || fioDuration.toSeconds() < 1) {
            throw new UsageException("--duration and --fio-duration must be 1s or more");
        }
        if (!(hydrateShare > 0 && hydrateShare <= 1)) throw new UsageException("--hydrate-share must be more than 0 and at most 1");
        if (regionSize > Integer.MAX_VALUE) throw new UsageException("--region-size is too large");
        Path dir = out != null ? out : Path.of("bench-results",
                "workload-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        return new WorkloadBench.Options(rate, latency.toNanos(), appData, chosenModes, chosenWorkloads, duration,
                fioDuration, repeat, dir, readyTimeout, (int) regionSize, hydrateShare);
    }

    private static List<String> choose(String option, List<String> given, List<String> all) {
        List<String> chosen = new ArrayList<>();
        for (String m : given == null ? all : given) {
            m = m.strip();
            if (m.isEmpty()) continue;
            if (!all.contains(m)) {
                throw new UsageException(option + ": unknown value '" + m + "' (" + String.join(",", all) + ")");
            }
            if (!chosen.contains(m)) chosen.add(m);
        }
        if (chosen.isEmpty()) throw new UsageException(option + ": nothing given");
        return chosen;
    }
}
