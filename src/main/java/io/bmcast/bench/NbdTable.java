package io.bmcast.bench;

import io.bmcast.bench.BenchCommand.Workload;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench nbd}'s figures as a table and as JSON: pure, no I/O. Every cell is the median of the runs with
 * its min-max; the ratios are bmcast's median over each peer's, all measured in the same interleaved run.
 */
final class NbdTable {
    static final String OURS = "bmcast";

    private final List<Workload> workloads;
    private final List<String> servers;
    // [workload][server][run]: bytes/s or IOPS; NaN for a run that failed or did not happen.
    private final double[][][] samples;
    // [workload][server][run]: the server's CPU per unit of work (ms per GB, or us per request); NaN when unknown.
    private final double[][][] cpu;
    private final long[] peakRssKb;

    NbdTable(List<Workload> workloads, List<String> servers, int repeat) {
        this.workloads = List.copyOf(workloads);
        this.servers = List.copyOf(servers);
        if (!this.servers.contains(OURS)) throw new IllegalArgumentException("no " + OURS + " among " + servers);
        this.samples = new double[workloads.size()][servers.size()][repeat];
        this.cpu = new double[workloads.size()][servers.size()][repeat];
        for (double[][] w : samples) for (double[] s : w) Arrays.fill(s, Double.NaN);
        for (double[][] w : cpu) for (double[] s : w) Arrays.fill(s, Double.NaN);
        this.peakRssKb = new long[servers.size()];
        Arrays.fill(peakRssKb, -1);
    }

    int repeat() {
        return samples[0][0].length;
    }

    /** Records one fio figure; {@code run} counts from 1. */
    void add(int workload, int server, int run, double value) {
        samples[workload][server][run - 1] = value;
    }

    /**
     * Records what one fio figure cost the server: {@code cores}, its CPU time over the run's wall time. Stored
     * per unit of work: ms per GB for throughput rows, us per request for IOPS rows. A server's CPU cost moves
     * far less than its throughput when neighbours take the cores, so it tells efficiency apart from noise.
     */
    void addCpu(int workload, int server, int run, double cores) {
        double v = samples[workload][server][run - 1];
        if (!(v > 0) || !(cores >= 0)) return;
        cpu[workload][server][run - 1] = workloads.get(workload).iops() ? cores * 1e6 / v : cores * 1e3 / (v / 1e9);
    }

    Spread cpuSpread(int workload, int server) {
        return Spread.of(cpu[workload][server]);
    }

    /** Keeps the largest peak RSS seen for {@code server} over its runs. */
    void peakRss(int server, long kb) {
        peakRssKb[server] = Math.max(peakRssKb[server], kb);
    }

    Spread spread(int workload, int server) {
        return Spread.of(samples[workload][server]);
    }

    /** bmcast's median over {@code server}'s on {@code workload}; NaN when either has no sample. */
    double ratio(int workload, int server) {
        Spread ours = spread(workload, servers.indexOf(OURS));
        Spread peer = spread(workload, server);
        if (!ours.present() || !peer.present() || peer.median() <= 0) return Double.NaN;
        return ours.median() / peer.median();
    }

    /** The text table: one row per workload, a column per server, then bmcast's ratio to each peer. */
    String format() {
        int ours = servers.indexOf(OURS);
        boolean spread = repeat() > 1;
        int cell = spread ? 24 : 12;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-22s", "workload"));
        for (String s : servers) b.append(String.format(Locale.ROOT, " %" + cell + "s", s));
        for (int p = 0; p < servers.size(); p++) if (p != ours) b.append(String.format(Locale.ROOT, " %10s", "/" + servers.get(p)));
        b.append('\n');
        for (int w = 0; w < workloads.size(); w++) {
            Workload wl = workloads.get(w);
            b.append(String.format(Locale.ROOT, "%-22s", wl.label()));
            for (int p = 0; p < servers.size(); p++) b.append(String.format(Locale.ROOT, " %" + cell + "s", cell(wl, spread(w, p), spread)));
            for (int p = 0; p < servers.size(); p++) {
                if (p != ours) b.append(String.format(Locale.ROOT, " %10s", StartupTable.ratio(ratio(w, p))));
            }
            b.append('\n');
        }
        b.append(String.format(Locale.ROOT, "%-22s", "peak RSS (VmHWM)"));
        for (int p = 0; p < servers.size(); p++) {
            b.append(String.format(Locale.ROOT, " %" + cell + "s",
                    peakRssKb[p] <= 0 ? "?" : String.format(Locale.ROOT, "%.0f MiB", peakRssKb[p] / 1024.0)));
        }
        b.append('\n');
        b.append(String.format(Locale.ROOT, "%-22s", "server CPU per work"));
        b.append('\n');
        for (int w = 0; w < workloads.size(); w++) {
            Workload wl = workloads.get(w);
            b.append(String.format(Locale.ROOT, "%-22s", "  " + wl.label()));
            for (int p = 0; p < servers.size(); p++) {
                Spread c = cpuSpread(w, p);
                String f = wl.iops() ? "%.1f" : "%.0f"; // a request costs a few us, a GB a few hundred ms
                b.append(String.format(Locale.ROOT, " %" + cell + "s", !c.present() ? "?"
                        : String.format(Locale.ROOT, f, c.median())
                                + (spread ? String.format(Locale.ROOT, " (" + f + "-" + f + ")", c.min(), c.max()) : "")
                                + (wl.iops() ? " us/req" : " ms/GB")));
            }
            for (int p = 0; p < servers.size(); p++) {
                if (p == ours) continue;
                Spread a = cpuSpread(w, ours), c = cpuSpread(w, p);
                b.append(String.format(Locale.ROOT, " %10s", a.present() && c.present() && c.median() > 0
                        ? StartupTable.ratio(a.median() / c.median()) : "-"));
            }
            b.append('\n');
        }
        b.append("(server CPU: its CPU time over the run's wall time, per GB or per request; lower is better)\n");
        if (spread) b.append("median of ").append(repeat()).append(" interleaved runs (min-max); ratios are of medians\n");
        return b.toString();
    }

    /** One cell: {@code 2.41 GB/s}, or with repeats {@code 2.41 (2.30-2.52) GB/s}; failed runs are counted. */
    static String cell(Workload wl, Spread s, boolean withSpread) {
        if (!s.present()) return "failed";
        String unit = wl.iops() ? "k IOPS" : " GB/s";
        double scale = wl.iops() ? 1e3 : 1e9;
        String fmt = wl.iops() ? "%.1f" : "%.2f";
        String text = String.format(Locale.ROOT, fmt, s.median() / scale);
        if (withSpread) {
            text += String.format(Locale.ROOT, " (" + fmt + "-" + fmt + ")", s.min() / scale, s.max() / scale);
        }
        text += unit;
        if (s.failed() > 0) text += " !" + s.failed();
        return text;
    }

    /** Every sample and its spread, per workload and server, with the ratios: for {@code results.json}. */
    List<Map<String, Object>> toJson() {
        int ours = servers.indexOf(OURS);
        List<Map<String, Object>> out = new ArrayList<>();
        for (int w = 0; w < workloads.size(); w++) {
            Workload wl = workloads.get(w);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("workload", wl.label());
            row.put("unit", wl.iops() ? "IOPS" : "bytes/s");
            Map<String, Object> byServer = new LinkedHashMap<>();
            for (int p = 0; p < servers.size(); p++) {
                Spread s = spread(w, p);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("median", s.present() ? s.median() : null);
                m.put("min", s.present() ? s.min() : null);
                m.put("max", s.present() ? s.max() : null);
                List<Double> all = new ArrayList<>();
                for (double v : samples[w][p]) all.add(Double.isNaN(v) ? null : v);
                m.put("samples", all); // in run order
                List<Double> costs = new ArrayList<>();
                for (double v : cpu[w][p]) costs.add(Double.isNaN(v) ? null : StartupTable.round(v));
                m.put("cpuPerUnit", wl.iops() ? "us per request" : "ms per GB");
                m.put("cpuSamples", costs);
                byServer.put(servers.get(p), m);
            }
            row.put("servers", byServer);
            Map<String, Object> ratios = new LinkedHashMap<>();
            for (int p = 0; p < servers.size(); p++) {
                if (p == ours) continue;
                double r = ratio(w, p);
                ratios.put(servers.get(p), Double.isNaN(r) ? null : StartupTable.round(r));
            }
            row.put("ratioOfMedians", ratios);
            out.add(row);
        }
        return out;
    }

    Map<String, Object> peakRssJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int p = 0; p < servers.size(); p++) m.put(servers.get(p), peakRssKb[p] <= 0 ? null : peakRssKb[p]);
        return m;
    }

    /** True when every run of every server produced its figure. */
    boolean complete() {
        for (double[][] w : samples) for (double[] s : w) for (double v : s) if (Double.isNaN(v)) return false;
        return true;
    }
}
