package io.bmcast.bench;

import io.bmcast.guest.GuestKind;
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

/** {@code bmcast bench startup}: the options of a {@link StartupBench} run. */
@Command(name = "startup", sortOptions = false,
        description = "Instance startup side by side over one emulated link: table, JSON and PNG chart.")
final class StartupCommand implements Callable<Integer> {
    @Option(names = "--guest", paramLabel = "KIND", defaultValue = "busybox", description = "busybox or debian (default ${DEFAULT-VALUE}).")
    String guest;

    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "1Gbit",
            description = "Rate of the emulated link (default ${DEFAULT-VALUE}).")
    long rate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "200us",
            description = "One-way latency of the emulated link (default ${DEFAULT-VALUE}).")
    Duration latency;

    @Option(names = "--app-data", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "0",
            description = "Application data in the image that the boot never reads (default none).")
    long appData;

    @Option(names = "--modes", paramLabel = "MODE,...", split = ",", description = "Modes to run, in order (default all: local,"
            + "full-copy,sparse-copy,remote,qemu-stream,bmcast).")
    List<String> modes;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "Runs of each mode, interleaved (all modes, then all again); the table shows medians with min-max "
                    + "(default ${DEFAULT-VALUE}: a whole run takes minutes; use 5 for figures that noise cannot hide).")
    int repeat;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the table, JSON and chart go (default bench-results/startup-TIME).")
    Path out;

    @Option(names = "--estimate-full-copy", paramLabel = "WINDOW", arity = "0..1", fallbackValue = "20s",
            converter = DurationConverter.class,
            description = "Estimate the full copy from its first WINDOW (default 20s) instead of copying it all.")
    Duration estimateWindow;

    @Option(names = "--exact-full-copy", description = "Copy the whole image in full-copy mode, however long it takes.")
    boolean exactFullCopy;

    @Option(names = "--ready-timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10m",
            description = "How long a mode may take to a ready guest (default ${DEFAULT-VALUE}).")
    Duration readyTimeout;

    @Option(names = "--local-timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "5m",
            description = "How long a mode may take to a local disk after the guest is ready (default ${DEFAULT-VALUE}).")
    Duration localTimeout;

    @Option(names = "--region-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "64K",
            description = "bmcast's region size (default ${DEFAULT-VALUE}).")
    long regionSize;

    @Option(names = "--hydrate-rate", paramLabel = "RATE", converter = RateConverter.class,
            description = "Cap bmcast's background copy (default: no cap).")
    Long hydrateRate;

    @Override
    public Integer call() throws Exception {
        return StartupBench.run(options());
    }

    StartupBench.Options options() {
        GuestKind kind;
        try {
            kind = GuestKind.parse(guest);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--guest: " + e.getMessage());
        }
        List<String> chosen = new ArrayList<>();
        for (String m : modes == null ? StartupBench.ALL_MODES : modes) {
            m = m.strip();
            if (m.isEmpty()) continue;
            if (!StartupBench.ALL_MODES.contains(m)) {
                throw new UsageException("--modes: unknown mode '" + m + "' (" + String.join(",", StartupBench.ALL_MODES) + ")");
            }
            if (!chosen.contains(m)) chosen.add(m);
        }
        if (chosen.isEmpty()) throw new UsageException("--modes: no mode given");
        if (repeat < 1) throw new UsageException("--repeat must be 1 or more");
        if (estimateWindow != null && exactFullCopy) {
            throw new UsageException("give --estimate-full-copy or --exact-full-copy, not both");
        }
        if (estimateWindow != null && estimateWindow.toSeconds() < 2) {
            throw new UsageException("--estimate-full-copy: the window must be 2s or more");
        }
        Boolean estimate = estimateWindow != null ? Boolean.TRUE : exactFullCopy ? Boolean.FALSE : null; // null: decide by size
        long window = estimateWindow != null ? estimateWindow.toNanos() : StartupBench.DEFAULT_ESTIMATE_WINDOW_NS;
        if (regionSize > Integer.MAX_VALUE) throw new UsageException("--region-size is too large");
        Path dir = out != null ? out : Path.of("bench-results",
                "startup-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        return new StartupBench.Options(kind, rate, latency.toNanos(), appData, chosen, dir, estimate, window, readyTimeout,
                localTimeout, (int) regionSize, hydrateRate == null ? 0 : hydrateRate, repeat);
    }
}
