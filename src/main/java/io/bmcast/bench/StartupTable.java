package io.bmcast.bench;

import io.bmcast.util.Units;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The startup benchmark's figures as a table and as JSON: pure, no I/O. Every time-to-ready is also given as a
 * ratio to the reference mode's (bmcast), measured in the same run over the same emulated link: on a shared,
 * noisy machine the ratios are the figures that mean something.
 *
 * <p>With {@code --repeat N} each mode has N samples (taken interleaved, see {@link Spread#interleave}): a row
 * then shows the median with its min-max, and its ratio is of medians. A run that failed counts in no median;
 * the table marks it with {@code !k} (k runs failed).
 */
public final class StartupTable {
    public static final String REFERENCE = "bmcast";

    /** One mode's samples, in run order, and their summary: medians, estimated when any sample was. */
    public record Row(String mode, List<ModeResult> samples, ModeResult summary) {
        public Spread ready() {
            return Spread.of(samples.stream().mapToDouble(ModeResult::readySeconds).toArray());
        }

        /** Over the runs that made the disk local; NONE for a mode that never does. */
        public Spread local() {
            if (!summary.makesLocal()) return Spread.NONE;
            return Spread.of(samples.stream().filter(ModeResult::ready).mapToDouble(ModeResult::localSeconds).toArray());
        }
    }

    private final List<Row> rows;

    /** Samples of any number of runs (one run: one sample per mode), grouped by mode in order of first appearance. */
    public StartupTable(List<ModeResult> samples) {
        Map<String, List<ModeResult>> byMode = new LinkedHashMap<>();
        for (ModeResult r : samples) byMode.computeIfAbsent(r.mode(), k -> new ArrayList<>()).add(r);
        List<Row> out = new ArrayList<>();
        byMode.forEach((mode, list) -> out.add(new Row(mode, List.copyOf(list), summarize(list))));
        this.rows = List.copyOf(out);
    }

    /**
     * The median figures of one mode's runs: times over the runs that got there (-1 when none did), bytes over
     * all runs; numeric extras as medians, other extras from the last run. One run is its own summary.
     */
    static ModeResult summarize(List<ModeResult> runs) {
        if (runs.size() == 1) return runs.getFirst();
        ModeResult last = runs.getLast();
        double[] ready = runs.stream().mapToDouble(ModeResult::readySeconds).toArray();
        Spread r = Spread.of(ready);
        double local;
        if (!last.makesLocal()) {
            local = Double.NaN;
        } else {
            Spread l = Spread.of(runs.stream().filter(ModeResult::ready).mapToDouble(ModeResult::localSeconds).toArray());
            local = l.present() ? l.median() : -1;
        }
        long bytes = Math.round(Spread.of(runs.stream().mapToDouble(ModeResult::bytesMoved).toArray()).median());
        boolean readyEst = runs.stream().anyMatch(ModeResult::readyEstimated);
        boolean localEst = runs.stream().anyMatch(ModeResult::localEstimated);
        Map<String, Object> extra = new LinkedHashMap<>();
        for (ModeResult run : runs) {
            for (String key : run.extra().keySet()) {
                if (extra.containsKey(key)) continue;
                List<Double> numbers = new ArrayList<>();
                for (ModeResult o : runs) if (o.extra().get(key) instanceof Number n) numbers.add(n.doubleValue());
                Object lastValue = null;
                for (ModeResult o : runs) if (o.extra().containsKey(key)) lastValue = o.extra().get(key);
                extra.put(key, numbers.isEmpty() ? lastValue
                        : Spread.of(numbers.stream().mapToDouble(Double::doubleValue).toArray()).median());
            }
        }
        return new ModeResult(last.mode(), r.present() ? r.median() : -1, local, bytes, readyEst, localEst, extra);
    }

    /** Each mode's summary (one run: the run itself), in table order. */
    public List<ModeResult> rows() {
        return rows.stream().map(Row::summary).toList();
    }

    /** Each mode with its samples. */
    public List<Row> samples() {
        return rows;
    }

    /** The most runs any mode had. */
    public int runs() {
        return rows.stream().mapToInt(r -> r.samples().size()).max().orElse(0);
    }

    /** The reference row's summary, or null when it was not run or never got ready. */
    public ModeResult reference() {
        for (Row r : rows) if (r.mode().equals(REFERENCE) && r.summary().ready()) return r.summary();
        return null;
    }

    /** {@code row}'s time-to-ready over the reference's (medians with repeats), or NaN when either is missing. */
    public double readyRatio(ModeResult row) {
        ModeResult ref = reference();
        if (ref == null || !row.ready() || ref.readySeconds() <= 0) return Double.NaN;
        return row.readySeconds() / ref.readySeconds();
    }

    /** The text table: one row per mode, estimated figures marked with {@code ~} and a footnote. */
    public String format() {
        boolean spread = runs() > 1;
        int w = spread ? 22 : 12;
        StringBuilder b = new StringBuilder();
        String header = String.format(Locale.ROOT, "%-12s %" + w + "s %" + w + "s %12s %14s", "mode", "ready (s)", "local (s)",
                "moved", "ready/" + REFERENCE);
        b.append(header).append('\n').append("-".repeat(header.length())).append('\n');
        for (Row row : rows) {
            ModeResult r = row.summary();
            String ready = (r.readyEstimated() ? "~" : "") + seconds(r.readySeconds());
            String local = r.makesLocal() ? (r.localEstimated() ? "~" : "") + seconds(r.localSeconds()) : "n/a";
            if (spread) {
                ready += range(row.ready());
                if (r.makesLocal()) local += range(row.local());
            }
            b.append(String.format(Locale.ROOT, "%-12s %" + w + "s %" + w + "s %12s %14s%n", r.mode(), ready, local,
                    Units.formatSize(r.bytesMoved()).replace(" ", ""), ratio(readyRatio(r))));
        }
        if (spread) {
            b.append("median of ").append(runs()).append(" interleaved runs (min-max); ratios are of medians");
            if (rows.stream().anyMatch(r -> r.ready().failed() > 0)) b.append("; !k: k runs failed");
            b.append('\n');
        }
        for (ModeResult r : rows()) {
            if (!r.estimated()) continue;
            if (r.mode().equals("full-copy")) {
                b.append("~ full-copy estimated: copy time extrapolated from the copy rate measured over a prefix\n")
                        .append("  of the image, plus a measured boot from a local copy; bytes moved = the whole image.\n");
            } else if (r.mode().equals("qemu-stream")) {
                b.append("~ qemu-stream local estimated: block-stream stopped at --local-timeout, completion\n")
                        .append("  extrapolated from its progress (query-block-jobs); bytes moved = until then.\n");
            } else {
                b.append("~ ").append(r.mode()).append(": estimated\n");
            }
        }
        return b.toString();
    }

    /** {@code " (3.10-3.40)"}, plus {@code " !k"} when k runs failed; empty with nothing to show. */
    static String range(Spread s) {
        String fail = s.failed() > 0 ? " !" + s.failed() : "";
        if (!s.present()) return fail;
        return " (" + seconds(s.min()) + "-" + seconds(s.max()) + ")" + fail;
    }

    static String seconds(double s) {
        if (Double.isNaN(s)) return "n/a";
        if (s < 0) return "failed";
        return String.format(Locale.ROOT, s >= 100 ? "%.0f" : "%.2f", s);
    }

    static String ratio(double r) {
        if (Double.isNaN(r)) return "-";
        return String.format(Locale.ROOT, r >= 100 ? "%.0fx" : "%.2fx", r);
    }

    /**
     * Rows as JSON-ready maps: times in seconds (null when not applicable or failed; medians with repeats), the
     * ratio, the extras, then the spread and every run as it was measured ({@code samples}, in run order).
     */
    public List<Map<String, Object>> toJson() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Row row : rows) {
            ModeResult r = row.summary();
            Map<String, Object> m = sample(r);
            double ratio = readyRatio(r);
            m.put("readyRatioToBmcast", Double.isNaN(ratio) ? null : round(ratio));
            m.putAll(r.extra());
            m.put("runs", row.samples().size());
            Spread ready = row.ready();
            m.put("readyMinSeconds", ready.present() ? round(ready.min()) : null);
            m.put("readyMaxSeconds", ready.present() ? round(ready.max()) : null);
            m.put("failedRuns", ready.failed());
            if (r.makesLocal()) {
                Spread local = row.local();
                m.put("localMinSeconds", local.present() ? round(local.min()) : null);
                m.put("localMaxSeconds", local.present() ? round(local.max()) : null);
            }
            List<Map<String, Object>> runs = new ArrayList<>();
            for (ModeResult s : row.samples()) {
                Map<String, Object> one = sample(s);
                one.putAll(s.extra());
                runs.add(one);
            }
            m.put("samples", runs);
            out.add(m);
        }
        return out;
    }

    private static Map<String, Object> sample(ModeResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", r.mode());
        m.put("readySeconds", r.ready() ? round(r.readySeconds()) : null);
        m.put("localSeconds", r.makesLocal() && r.localSeconds() >= 0 ? round(r.localSeconds()) : null);
        m.put("localApplicable", r.makesLocal());
        m.put("bytesMoved", r.bytesMoved());
        m.put("readyEstimated", r.readyEstimated());
        m.put("localEstimated", r.localEstimated());
        return m;
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
