package io.bmcast.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The median of repeated measurements with their min-max, and the order the repetitions run in. Pure.
 *
 * <p>Why the median and interleaving: on a shared two-core machine one run of a mode can swing 30% when a
 * neighbour wakes up. Running mode A, B, C, then A, B, C again spreads such a burst over all modes instead of
 * landing it on one, and the median ignores the one run it did hit, where a mean would not.
 *
 * @param median  the middle sample (the mean of the two middle ones for an even count); NaN with no sample
 * @param min     the smallest sample, NaN with none
 * @param max     the largest sample, NaN with none
 * @param count   the samples that count (failed ones, negative or NaN, are left out)
 * @param failed  the samples left out
 */
public record Spread(double median, double min, double max, int count, int failed) {
    public static final Spread NONE = new Spread(Double.NaN, Double.NaN, Double.NaN, 0, 0);

    /** The spread of {@code samples}; a negative or NaN sample is a failed run and is only counted. */
    public static Spread of(double... samples) {
        double[] ok = Arrays.stream(samples).filter(v -> v >= 0).sorted().toArray();
        int failed = samples.length - ok.length;
        if (ok.length == 0) return new Spread(Double.NaN, Double.NaN, Double.NaN, 0, failed);
        int mid = ok.length / 2;
        double median = ok.length % 2 == 1 ? ok[mid] : (ok[mid - 1] + ok[mid]) / 2;
        return new Spread(median, ok[0], ok[ok.length - 1], ok.length, failed);
    }

    /** True when at least one sample counts. */
    public boolean present() {
        return count > 0;
    }

    /** One repetition of one mode: {@code run} counts from 1. */
    public record Slot<M>(int run, M mode) {}

    /**
     * The order to run {@code modes} {@code repeat} times in: every mode once, in the given order, then every
     * mode again (A1 B1 C1 A2 B2 C2 ...), so that a slow spell on the machine hits all modes alike.
     */
    public static <M> List<Slot<M>> interleave(List<M> modes, int repeat) {
        if (repeat < 1) throw new IllegalArgumentException("repeat must be 1 or more: " + repeat);
        List<Slot<M>> order = new ArrayList<>(modes.size() * repeat);
        for (int run = 1; run <= repeat; run++) {
            for (M m : modes) order.add(new Slot<>(run, m));
        }
        return order;
    }
}
