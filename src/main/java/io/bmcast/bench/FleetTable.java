package io.bmcast.bench;

import io.bmcast.util.Units;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fleet benchmark's figures as text tables and JSON: pure, no I/O. Every figure is the median of the rounds
 * with their min-max beside it; ratios are taken between medians measured in the same run (N against N = 1,
 * serialized against parallel, three real instances against one), which on a shared, noisy machine are the
 * figures that mean something.
 */
final class FleetTable {
    static final double MAKESPAN_TARGET = 1.5;
    static final double DESTROY_TARGET_S = 5;

    /** What was asked: the rows to show, including those not run. */
    record Plan(List<String> dbs, List<String> modes, List<Integer> sizes, int serializedMax, double readyAfterS,
            Map<String, String> skippedDbs) {}

    /** One row: the samples of one (db, mode, N, style) over the rounds. */
    record Row(String db, String mode, int n, String style, List<LaunchSample> samples, String notRun) {
        Stat running() {
            return Stat.of(samples.stream().mapToDouble(s -> s.finished() ? s.runningS() : Double.POSITIVE_INFINITY).toArray());
        }

        double timeBox() {
            return samples.stream().mapToDouble(LaunchSample::timeBoxS).max().orElse(Double.NaN);
        }

        Stat of(java.util.function.ToDoubleFunction<LaunchSample> f) {
            return Stat.of(samples.stream().filter(LaunchSample::finished).mapToDouble(f).toArray());
        }

        String label() {
            return style.equals("count") ? "1 x --count " + n : n + (n == 1 ? " request" : " requests");
        }
    }

    /** Median and range of some figures; +infinity stands for "ran out of time". */
    record Stat(double median, double min, double max, int count) {
        static final Stat NONE = new Stat(Double.NaN, Double.NaN, Double.NaN, 0);

        static Stat of(double[] v) {
            if (v.length == 0) return NONE;
            double[] s = v.clone();
            Arrays.sort(s);
            double med = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
            return new Stat(med, s[0], s[s.length - 1], s.length);
        }

        boolean present() {
            return count > 0 && !Double.isNaN(median);
        }
    }

    private final Plan plan;
    private final List<Row> rows;
    private final List<RealSample> real;
    private final String realNote;

    FleetTable(Plan plan, List<LaunchSample> samples, List<RealSample> real, String realNote) {
        this.plan = plan;
        this.real = List.copyOf(real);
        this.realNote = realNote;
        List<Row> out = new ArrayList<>();
        for (String db : plan.dbs()) {
            for (String mode : plan.modes()) {
                for (int n : plan.sizes()) {
                    for (String style : n == 1 ? List.of("requests") : List.of("requests", "count")) {
                        List<LaunchSample> mine = samples.stream().filter(s -> s.db().equals(db) && s.mode().equals(mode)
                                && s.n() == n && s.style().equals(style)).toList();
                        String notRun = null;
                        if (plan.skippedDbs().containsKey(db)) notRun = "not run: " + plan.skippedDbs().get(db);
                        else if (mode.equals("serialized") && n > plan.serializedMax()) notRun = "not run: serialized is capped at N <= " + plan.serializedMax();
                        else if (mine.isEmpty()) notRun = "not run: a smaller N ran out of time";
                        out.add(new Row(db, mode, n, style, mine, notRun));
                    }
                }
            }
        }
        this.rows = out;
    }

    List<Row> rows() {
        return rows;
    }

    Row find(String db, String mode, int n, String style) {
        for (Row r : rows) if (r.db().equals(db) && r.mode().equals(mode) && r.n() == n && r.style().equals(style)) return r;
        return null;
    }

    /** A row's median makespan over that of N = 1 in the same db and mode; NaN when either is missing. */
    double ratioToOne(Row r) {
        Row one = find(r.db(), r.mode(), 1, "requests");
        if (one == null) return Double.NaN;
        return ratio(r.running(), one.running());
    }

    /** Serialized over parallel for the same db, N and style: how much the parallel controller gains. */
    double gain(Row parallel) {
        Row ser = find(parallel.db(), "serialized", parallel.n(), parallel.style());
        if (ser == null) return Double.NaN;
        return ratio(ser.running(), parallel.running());
    }

    private static double ratio(Stat a, Stat b) {
        if (!a.present() || !b.present() || b.median() <= 0 || Double.isInfinite(b.median())) return Double.NaN;
        return a.median() / b.median();
    }

    String format() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "hollow nodes, ready-after %s s: launch N at once, request(s) to all running (streaming or later)%n",
                trim(plan.readyAfterS())));
        String h = String.format(Locale.ROOT, "%-9s %-10s %5s  %-17s %-21s %7s  %-17s %-15s %-21s", "db", "mode", "N", "launched as",
                "to all running (s)", "/ N=1", "sched p50/p99 ms", "run p50/p99 s", "destroy->avail (s)");
        b.append(h).append('\n').append("-".repeat(h.length())).append('\n');
        for (Row r : rows) {
            if (r.notRun() != null) {
                b.append(String.format(Locale.ROOT, "%-9s %-10s %5d  %-17s %s%n", r.db(), r.mode(), r.n(), r.label(), r.notRun()));
                continue;
            }
            Stat run = r.running();
            b.append(String.format(Locale.ROOT, "%-9s %-10s %5d  %-17s %-21s %7s  %-17s %-15s %-21s%n", r.db(), r.mode(), r.n(), r.label(),
                    spread(run, r.timeBox()), StartupTable.ratio(ratioToOne(r)),
                    pair(r.of(LaunchSample::scheduledP50), r.of(LaunchSample::scheduledP99), 1000, "%.0f"),
                    pair(r.of(LaunchSample::runningP50), r.of(LaunchSample::runningP99), 1, "%.2f"),
                    spread(r.of(LaunchSample::destroyS), Double.NaN)));
        }
        b.append("median of the rounds (min-max); a fleet of max(N) hollow nodes per db and mode; p50/p99 over the N launches\n");
        if (plan.modes().contains("serialized") && plan.modes().contains("parallel")) {
            b.append('\n').append("parallel against serialized (the pre-Swift-Birth toolstack: one launch at a time, metadata re-read per launch)\n");
            String g = String.format(Locale.ROOT, "%-9s %5s  %-17s %14s %16s %8s", "db", "N", "launched as", "parallel (s)", "serialized (s)", "gain");
            b.append(g).append('\n').append("-".repeat(g.length())).append('\n');
            for (Row r : rows) {
                if (!r.mode().equals("parallel") || r.notRun() != null) continue;
                Row ser = find(r.db(), "serialized", r.n(), r.style());
                String serText = ser == null || ser.notRun() != null ? "not run" : median(ser.running(), ser.timeBox());
                double gain = gain(r);
                String gainText = Double.isNaN(gain) ? "-" : Double.isInfinite(gain) ? "> " + StartupTable.ratio(ser.timeBox() / r.running().median())
                        : StartupTable.ratio(gain);
                b.append(String.format(Locale.ROOT, "%-9s %5d  %-17s %14s %16s %8s%n", r.db(), r.n(), r.label(),
                        median(r.running(), Double.NaN), serText, gainText));
            }
            b.append("gain = serialized / parallel; one --count request is one turn of the global lock, so serialized mode\n")
                    .append("slows separate requests (many tenants), not one request for many\n");
        }
        if (!real.isEmpty() || realNote != null) b.append('\n').append(formatReal());
        b.append('\n').append(targets());
        return b.toString();
    }

    String formatReal() {
        StringBuilder b = new StringBuilder("real mini-fleet: busybox guests on real agents, one image server");
        if (realNote != null) b.append(" ").append(realNote);
        b.append('\n');
        if (real.isEmpty()) return b.toString();
        String h = String.format(Locale.ROOT, "%-12s %-19s %-19s %11s %11s %-16s %-26s %-9s", "launched", "to running (s)", "to devirt. (s)",
                "vs 1 alone", "egress", "egress rate", "ready->destroy->avail (s)", "scrub (s)");
        b.append(h).append('\n').append("-".repeat(h.length())).append('\n');
        Stat oneDevirt = realStat(1, RealSample::devirtualizedS);
        for (int k : real.stream().mapToInt(RealSample::k).distinct().sorted().toArray()) {
            Stat devirt = realStat(k, RealSample::devirtualizedS);
            long bytes = (long) realStat(k, s -> s.egressBytes()).median();
            b.append(String.format(Locale.ROOT, "%-12s %-19s %-19s %11s %11s %-16s %-26s %-9s%n", k + " at once",
                    spread(realStat(k, RealSample::runningS), Double.NaN), spread(devirt, Double.NaN),
                    StartupTable.ratio(ratio(devirt, oneDevirt)), Units.formatSize(bytes).replace(" ", ""),
                    Units.formatRate(realStat(k, RealSample::egressRate).median()),
                    spread(realStat(k, RealSample::destroyS), Double.NaN), spread(realStat(k, RealSample::scrubS), Double.NaN)));
        }
        b.append("vs 1 alone: time to devirtualized, k at once over one alone; egress counted at the image server\n");
        b.append("destroy->avail: destroyed once every guest showed its ready marker on its console (booted, so it hears the\n"
                + "  ACPI power button), from the destroy request to the node available again; scrub: the agent's scrub alone\n");
        return b.toString();
    }

    Stat realStat(int k, java.util.function.ToDoubleFunction<RealSample> f) {
        return Stat.of(real.stream().filter(s -> s.k() == k).mapToDouble(f).toArray());
    }

    /** The targets, reported (never asserted). */
    String targets() {
        StringBuilder b = new StringBuilder("targets (reported, not asserted):\n");
        int max = plan.sizes().stream().mapToInt(Integer::intValue).max().orElse(1);
        for (String db : plan.dbs()) {
            for (String style : List.of("requests", "count")) {
                Row r = find(db, "parallel", max, style);
                if (r == null || r.notRun() != null || max == 1) continue;
                double ratio = ratioToOne(r);
                b.append(String.format(Locale.ROOT, "  %-9s makespan(%d)/makespan(1) <= %.1f, %-17s %7s  %s%n", db, max, MAKESPAN_TARGET,
                        r.label() + ":", StartupTable.ratio(ratio), Double.isNaN(ratio) ? "not measured" : ratio <= MAKESPAN_TARGET ? "met" : "MISSED"));
            }
        }
        if (!real.isEmpty()) {
            Stat d = Stat.of(real.stream().mapToDouble(RealSample::destroyS).toArray());
            b.append(String.format(Locale.ROOT, "  real      destroy-to-available of a booted guest, 32 GiB sparse disk <= %.0f s: %.2f s (worst %.2f s)  %s%n",
                    DESTROY_TARGET_S, d.median(), d.max(), d.max() <= DESTROY_TARGET_S ? "met" : "MISSED"));
        }
        return b.toString();
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        List<Map<String, Object>> out = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("db", r.db());
            o.put("mode", r.mode());
            o.put("n", r.n());
            o.put("launchedAs", r.style());
            if (r.notRun() != null) {
                o.put("notRun", r.notRun());
                out.add(o);
                continue;
            }
            Stat run = r.running();
            o.put("runningSeconds", json(run));
            o.put("timedOut", r.samples().stream().filter(s -> !s.finished()).count());
            o.put("timeBoxSeconds", r.timeBox());
            o.put("ratioToN1", num(ratioToOne(r)));
            if (r.mode().equals("parallel")) o.put("gainOverSerialized", num(gain(r)));
            o.put("scheduledP50Seconds", json(r.of(LaunchSample::scheduledP50)));
            o.put("scheduledP99Seconds", json(r.of(LaunchSample::scheduledP99)));
            o.put("takenP99Seconds", json(r.of(LaunchSample::takenP99)));
            o.put("runningP50Seconds", json(r.of(LaunchSample::runningP50)));
            o.put("runningP99Seconds", json(r.of(LaunchSample::runningP99)));
            o.put("destroyToAvailableSeconds", json(r.of(LaunchSample::destroyS)));
            o.put("rounds", r.samples().size());
            out.add(o);
        }
        m.put("hollow", out);
        List<Map<String, Object>> realOut = new ArrayList<>();
        for (RealSample s : real) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("k", s.k());
            o.put("round", s.round());
            o.put("runningSeconds", StartupTable.round(s.runningS()));
            o.put("devirtualizedSeconds", StartupTable.round(s.devirtualizedS()));
            o.put("egressBytes", s.egressBytes());
            o.put("egressBytesPerSecond", num(s.egressRate()));
            o.put("destroyToAvailableSeconds", StartupTable.round(s.destroyS()));
            o.put("scrubSeconds", StartupTable.round(s.scrubS()));
            realOut.add(o);
        }
        m.put("real", realOut);
        if (realNote != null) m.put("realNote", realNote);
        return m;
    }

    private static Object num(double v) {
        return Double.isNaN(v) || Double.isInfinite(v) ? null : StartupTable.round(v);
    }

    private static Map<String, Object> json(Stat s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("median", num(s.median()));
        m.put("min", num(s.min()));
        m.put("max", num(s.max()));
        return m;
    }

    static String spread(Stat s, double timeBox) {
        if (!s.present()) return "-";
        if (s.count() == 1 || s.min() == s.max()) return median(s, timeBox);
        return median(s, timeBox) + " (" + sec(s.min(), timeBox) + "-" + sec(s.max(), timeBox) + ")";
    }

    static String median(Stat s, double timeBox) {
        return s.present() ? sec(s.median(), timeBox) : "-";
    }

    private static String sec(double v, double timeBox) {
        if (Double.isInfinite(v)) return ">" + trim(timeBox);
        return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.2f", v);
    }

    private static String pair(Stat a, Stat b, double scale, String fmt) {
        if (!a.present() || !b.present()) return "-";
        return String.format(Locale.ROOT, fmt + " / " + fmt, a.median() * scale, b.median() * scale);
    }

    static String trim(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v);
    }
}
