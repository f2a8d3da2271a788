package io.bmcast.bench;

import io.bmcast.util.Units;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * {@code bench fanout}'s runs grouped by mode (N, peers on/off), each figure the median of the repeats with its
 * min-max, the table text, the targets line, the JSON and the charts. Pure.
 */
final class FanoutTable {
    private final List<FanoutBench.Run> runs;
    private final long workingSet;
    private final long storedBytes;
    private final FanoutBench.Pace pace;
    private final double traceSeconds;
    private final List<String> modes = new ArrayList<>();
    private final Map<String, List<FanoutBench.Run>> byMode = new LinkedHashMap<>();

    /**
     * @param pace         how the nodes replayed the trace
     * @param traceSeconds the trace's recorded duration (the boot without bmcast's waits)
     */
    FanoutTable(List<FanoutBench.Run> runs, long workingSet, long storedBytes, FanoutBench.Pace pace, double traceSeconds) {
        this.runs = List.copyOf(runs);
        this.pace = pace;
        this.traceSeconds = traceSeconds;
        this.workingSet = Math.max(1, workingSet);
        this.storedBytes = Math.max(1, storedBytes);
        for (FanoutBench.Run r : runs) {
            byMode.computeIfAbsent(r.mode(), k -> {
                modes.add(k);
                return new ArrayList<>();
            }).add(r);
        }
    }

    boolean failed() {
        return runs.stream().anyMatch(r -> r.error() != null);
    }

    Spread spread(String mode, ToDoubleFunction<FanoutBench.Run> f) {
        return Spread.of(byMode.get(mode).stream().filter(r -> r.error() == null).mapToDouble(f).toArray());
    }

    double egressRatio(FanoutBench.Run r) {
        return r.storeBytes() / (double) workingSet;
    }

    String format() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-18s %-18s %-9s %-12s %-16s %-16s %-16s %-16s %-9s %-9s %-10s %-10s %s%n", "mode",
                "store egress/ws", "egress/img", "@ready/ws", "ready p50 s", "ready p99 s", "stall p50 s", "stall p99 s", "local p50",
                "local p99", "from peers", "from store", "verified/rejected"));
        for (String m : modes) {
            FanoutBench.Run any = byMode.get(m).get(0);
            Spread eg = spread(m, this::egressRatio);
            if (!eg.present()) {
                s.append(String.format(Locale.ROOT, "%-18s failed: %s%n", m, any.error()));
                continue;
            }
            s.append(String.format(Locale.ROOT, "%-18s %-18s %-9s %-12s %-16s %-16s %-16s %-16s %-9s %-9s %-10s %-10s %s%n", m, cell(eg),
                    num(spread(m, r -> r.storeBytes() / (double) storedBytes).median()),
                    num(spread(m, r -> r.storeBytesAtReady() / (double) workingSet).median()),
                    cell(spread(m, FanoutBench.Run::p50Ready)), cell(spread(m, FanoutBench.Run::p99Ready)),
                    cell(spread(m, FanoutBench.Run::p50Stall)), cell(spread(m, FanoutBench.Run::p99Stall)),
                    num(spread(m, FanoutBench.Run::p50Local).median()), num(spread(m, FanoutBench.Run::p99Local).median()),
                    Units.formatSize((long) spread(m, FanoutBench.Run::peerBytes).median()),
                    Units.formatSize((long) spread(m, FanoutBench.Run::storeBytes).median()),
                    (long) spread(m, FanoutBench.Run::verified).median() + "/" + (long) spread(m, FanoutBench.Run::rejected).median()));
        }
        int repeat = runs.stream().mapToInt(FanoutBench.Run::run).max().orElse(1);
        s.append(repeat > 1 ? "median of " + repeat + " runs [min-max]; " : "one run; ");
        s.append("ws = one working set (the stored bytes of the chunks the boot trace reads), img = the whole image as "
                + "stored (what one node needs to become local), @ready = what the store had sent when the last node was ready; "
                + "bytes are stored (wire) bytes summed over the nodes\n");
        s.append(paceNote()).append('\n');
        int maxN = runs.stream().mapToInt(FanoutBench.Run::nodes).max().orElse(0);
        s.append("local = seconds from the start until the node's disk was wholly local (hydrated); all ")
                .append(maxN).append(maxN == 1 ? " simulated node shares " : " simulated nodes share ")
                .append("this machine's ").append(Runtime.getRuntime().availableProcessors())
                .append(" cores (each verifies, decompresses and writes its own copy), so at large N the times also measure this "
                        + "machine's CPU, where real nodes would each have their own\n");
        return s.toString();
    }

    /** What ready and stall mean under this run's pace. */
    String paceNote() {
        return pace == FanoutBench.Pace.RECORDED
                ? String.format(Locale.ROOT, "pace recorded: each node replays the boot trace as the guest made it (each read after "
                        + "the one before returned and the guest's recorded compute between them; the boot took %.2f s without "
                        + "bmcast's waits); ready = seconds from the common start until its last read returned; stall = ready "
                        + "minus those %.2f s, what bmcast added to the boot", traceSeconds, traceSeconds)
                : "pace none: each node issues the trace's reads back to back (a stress figure, not a boot); ready = seconds from "
                        + "the common start until its last read returned; stall = ready (no compute to subtract)";
    }

    /** The targets, checked against the largest N. */
    String targets() {
        int maxN = runs.stream().mapToInt(FanoutBench.Run::nodes).max().orElse(0);
        int minN = runs.stream().mapToInt(FanoutBench.Run::nodes).min().orElse(0);
        StringBuilder s = new StringBuilder();
        String on = FanoutBench.Run.mode(maxN, true), one = FanoutBench.Run.mode(minN, true), off = FanoutBench.Run.mode(maxN, false);
        if (byMode.containsKey(on) && spread(on, this::egressRatio).present()) {
            double eg = spread(on, this::egressRatio).median();
            double img = spread(on, r -> r.storeBytes() / (double) storedBytes).median();
            s.append(String.format(Locale.ROOT, "target: with peers, store egress at N=%d <= 3x one working set: %.2fx the boot's "
                            + "working set (%s), %.2fx what one node needs to become local (the image: %s)%n",
                    maxN, eg, eg <= 3 ? "MET" : "missed", img, img <= 3 ? "MET" : "missed"));
            if (minN < maxN && byMode.containsKey(one) && spread(one, FanoutBench.Run::p99Ready).present()) {
                double a = spread(one, FanoutBench.Run::p99Ready).median(), b = spread(on, FanoutBench.Run::p99Ready).median();
                double sa = spread(one, FanoutBench.Run::p99Stall).median(), sb = spread(on, FanoutBench.Run::p99Stall).median();
                s.append(String.format(Locale.ROOT, "target: with peers, p99 ready at N=%d <= 2x N=%d (pace %s): %.2f s vs %.2f s = "
                                + "%.2fx %s; p99 stall (what bmcast added) %.2f s vs %.2f s%n",
                        maxN, minN, pace.id(), b, a, b / a, b <= 2 * a ? "MET" : "missed", sb, sa));
            }
        }
        if (byMode.containsKey(off) && spread(off, this::egressRatio).present()) {
            s.append(String.format(Locale.ROOT, "the wall: without peers, N=%d costs the store %.1fx one working set, p99 ready %.2f s, "
                            + "p99 stall %.2f s (pace %s)%n", maxN, spread(off, this::egressRatio).median(),
                    spread(off, FanoutBench.Run::p99Ready).median(), spread(off, FanoutBench.Run::p99Stall).median(), pace.id()));
        }
        return s.toString();
    }

    List<Map<String, Object>> toJson() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String m : modes) {
            Map<String, Object> j = new LinkedHashMap<>();
            FanoutBench.Run any = byMode.get(m).get(0);
            j.put("mode", m);
            j.put("nodes", any.nodes());
            j.put("peers", any.peers());
            j.put("storeEgressPerWorkingSet", json(spread(m, this::egressRatio)));
            j.put("storeEgressPerImage", json(spread(m, r -> r.storeBytes() / (double) storedBytes)));
            j.put("storeEgressAtReadyPerWorkingSet", json(spread(m, r -> r.storeBytesAtReady() / (double) workingSet)));
            j.put("p50ReadySeconds", json(spread(m, FanoutBench.Run::p50Ready)));
            j.put("p99ReadySeconds", json(spread(m, FanoutBench.Run::p99Ready)));
            j.put("p50StallSeconds", json(spread(m, FanoutBench.Run::p50Stall)));
            j.put("p99StallSeconds", json(spread(m, FanoutBench.Run::p99Stall)));
            j.put("p50LocalSeconds", json(spread(m, FanoutBench.Run::p50Local)));
            j.put("p99LocalSeconds", json(spread(m, FanoutBench.Run::p99Local)));
            j.put("runs", byMode.get(m));
            out.add(j);
        }
        return out;
    }

    BarChart.Chart egressChart(String header) {
        return chart("Fleet launch: store egress per working set, by N", header, this::egressRatio,
                "store egress / one working set (log scale" + whiskers() + ")", "x");
    }

    BarChart.Chart readyChart(String header) {
        return chart("Fleet launch: p99 time to ready, by N", header, FanoutBench.Run::p99Ready,
                "p99 seconds to ready (log scale" + whiskers() + ")", "s");
    }

    BarChart.Chart stallChart(String header) {
        return chart("Fleet launch: p99 stall (time to ready less the recorded boot), by N", header, FanoutBench.Run::p99Stall,
                (pace == FanoutBench.Pace.RECORDED ? "p99 seconds bmcast added to the boot, pace recorded"
                        : "p99 seconds to ready with the reads back to back (pace none: all of it is stall)")
                        + " (log scale" + whiskers() + ")", "s");
    }

    private String whiskers() {
        int repeat = runs.stream().mapToInt(FanoutBench.Run::run).max().orElse(1);
        return repeat > 1 ? "; median of " + repeat + " runs, min-max whiskers" : "";
    }

    private BarChart.Chart chart(String title, String header, ToDoubleFunction<FanoutBench.Run> f, String axis, String unit) {
        List<Boolean> peerModes = runs.stream().map(FanoutBench.Run::peers).distinct().toList();
        List<String> series = peerModes.stream().map(p -> p ? "with peers" : "store only").toList();
        List<BarChart.Group> groups = new ArrayList<>();
        for (int n : runs.stream().map(FanoutBench.Run::nodes).distinct().toList()) {
            List<BarChart.Bar> bars = new ArrayList<>();
            for (boolean p : peerModes) {
                String m = FanoutBench.Run.mode(n, p);
                Spread s = byMode.containsKey(m) ? spread(m, f) : Spread.NONE;
                bars.add(!s.present() ? new BarChart.Bar(Double.NaN, false)
                        : s.count() > 1 ? new BarChart.Bar(s.median(), false, s.min(), s.max()) : new BarChart.Bar(s.median(), false));
            }
            groups.add(new BarChart.Group("N=" + n, bars));
        }
        return new BarChart.Chart(title, header.replace("bench fanout: ", ""), series, groups, axis, unit);
    }

    private static Map<String, Object> json(Spread s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("median", s.present() ? s.median() : null);
        m.put("min", s.present() ? s.min() : null);
        m.put("max", s.present() ? s.max() : null);
        return m;
    }

    private static String cell(Spread s) {
        if (!s.present()) return "n/a";
        if (s.count() < 2) return num(s.median());
        return num(s.median()) + " [" + num(s.min()) + "-" + num(s.max()) + "]";
    }

    private static String num(double v) {
        return v < 0 || Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, v < 10 ? "%.2f" : "%.1f", v);
    }
}
