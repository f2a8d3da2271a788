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
 */
public final class StartupTable {
    public static final String REFERENCE = "bmcast";

    private final List<ModeResult> rows;

    public StartupTable(List<ModeResult> rows) {
        this.rows = List.copyOf(rows);
    }

    public List<ModeResult> rows() {
        return rows;
    }

    /** The reference row, or null when it was not run or never got ready. */
    public ModeResult reference() {
        for (ModeResult r : rows) if (r.mode().equals(REFERENCE) && r.ready()) return r;
        return null;
    }

    /** {@code row}'s time-to-ready over the reference's, or NaN when either is missing. */
    public double readyRatio(ModeResult row) {
        ModeResult ref = reference();
        if (ref == null || !row.ready() || ref.readySeconds() <= 0) return Double.NaN;
        return row.readySeconds() / ref.readySeconds();
    }

    /** The text table: one row per mode, estimated figures marked with {@code ~} and a footnote. */
    public String format() {
        StringBuilder b = new StringBuilder();
        String header = String.format(Locale.ROOT, "%-12s %12s %12s %12s %14s", "mode", "ready (s)", "local (s)",
                "moved", "ready/" + REFERENCE);
        b.append(header).append('\n').append("-".repeat(header.length())).append('\n');
        for (ModeResult r : rows) {
            b.append(String.format(Locale.ROOT, "%-12s %12s %12s %12s %14s%n", r.mode(),
                    (r.readyEstimated() ? "~" : "") + seconds(r.readySeconds()),
                    r.makesLocal() ? (r.localEstimated() ? "~" : "") + seconds(r.localSeconds()) : "n/a",
                    Units.formatSize(r.bytesMoved()).replace(" ", ""), ratio(readyRatio(r))));
        }
        for (ModeResult r : rows) {
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

    static String seconds(double s) {
        if (Double.isNaN(s)) return "n/a";
        if (s < 0) return "failed";
        return String.format(Locale.ROOT, s >= 100 ? "%.0f" : "%.2f", s);
    }

    static String ratio(double r) {
        if (Double.isNaN(r)) return "-";
        return String.format(Locale.ROOT, r >= 100 ? "%.0fx" : "%.2fx", r);
    }

    /** Rows as JSON-ready maps: times in seconds (null when not applicable or failed), the ratio, the extras. */
    public List<Map<String, Object>> toJson() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ModeResult r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mode", r.mode());
            m.put("readySeconds", r.ready() ? round(r.readySeconds()) : null);
            m.put("localSeconds", r.makesLocal() && r.localSeconds() >= 0 ? round(r.localSeconds()) : null);
            m.put("localApplicable", r.makesLocal());
            m.put("bytesMoved", r.bytesMoved());
            m.put("readyEstimated", r.readyEstimated());
            m.put("localEstimated", r.localEstimated());
            double ratio = readyRatio(r);
            m.put("readyRatioToBmcast", Double.isNaN(ratio) ? null : round(ratio));
            m.putAll(r.extra());
            out.add(m);
        }
        return out;
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
