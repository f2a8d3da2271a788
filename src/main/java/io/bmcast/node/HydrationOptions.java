package io.bmcast.node;

import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UsageException;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The background copy's options, shared by {@code node} and {@code instance run} (a picocli mixin), turned into
 * a {@link MediatorConfig.Hydration}.
 */
public final class HydrationOptions {
    @Option(names = "--hydrate-share", paramLabel = "FRACTION", defaultValue = "0.2",
            description = "The least share of the link the background copy gets while the guest is busy, 0 < FRACTION <= 1 "
                    + "(default ${DEFAULT-VALUE}: a busy guest keeps 80%% of the link, and its disk still becomes local within "
                    + "about 5x the idle copy time). An idle guest leaves the background copy the whole link.")
    double share;

    @Option(names = "--hydrate-by", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Be entirely local this long after the deployment's first start (kept across restarts): the "
                    + "share rises as needed, up to the whole link (default: no deadline).")
    Duration by;

    @Option(names = "--no-background-copy",
            description = "Remote-only: fetch what the guest reads (and keep it), copy nothing in the background; the "
                    + "disk never completes and the instance is never de-virtualized.")
    boolean noBackgroundCopy;

    /** The settings; a {@link UsageException} for values that cannot work. */
    public MediatorConfig.Hydration hydration() {
        if (!(share > 0 && share <= 1)) throw new UsageException("--hydrate-share must be more than 0 and at most 1, not " + share);
        if (by != null && (by.isZero() || by.isNegative())) throw new UsageException("--hydrate-by must be a positive duration");
        if (noBackgroundCopy && by != null) throw new UsageException("--hydrate-by cannot be met with --no-background-copy");
        return new MediatorConfig.Hydration(share, by, !noBackgroundCopy);
    }
}
