package io.bmcast.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The workload benchmark's table: the mean of every per-second figure of a job in each phase, over all runs, and
 * its percentage of the local disk's. A mean of per-second samples weighs every second alike, as the paper's
 * throughput-over-time figures do.
 */
final class WorkloadTable {
    static final List<String> DB_JOBS = List.of("pgbench");
    static final List<String> FIO_JOBS = List.of("fio-seqread", "fio-seqwrite", "fio-randread");
    static final double TARGET_DEPLOYING = 0.90;
    static final double TARGET_DEVIRTUALIZED = 0.99;

    /** Mean and sample count of one job in one phase. */
    record Cell(double mean, int samples) {
        static final Cell NONE = new Cell(Double.NaN, 0);
    }

    private final Map<String, Map<String, Cell>> cells = new LinkedHashMap<>(); // job -> phase -> cell

    WorkloadTable(List<WorkloadRun> runs) {
        for (String job : concat(DB_JOBS, FIO_JOBS)) {
            Map<String, Cell> byPhase = new LinkedHashMap<>();
            for (String phase : WorkloadRun.PHASES) {
                double sum = 0;
                int n = 0;
                for (WorkloadRun r : runs) {
                    for (double[] p : r.points(job, phase)) {
                        sum += p[1];
                        n++;
                    }
                }
                byPhase.put(phase, n == 0 ? Cell.NONE : new Cell(sum / n, n));
            }
            cells.put(job, byPhase);
        }
    }

    Cell cell(String job, String phase) {
        return cells.getOrDefault(job, Map.of()).getOrDefault(phase, Cell.NONE);
    }

    /** {@code phase}'s mean over local's, or NaN. */
    double ofLocal(String job, String phase) {
        Cell local = cell(job, "local"), c = cell(job, phase);
        return local.samples() == 0 || c.samples() == 0 || local.mean() <= 0 ? Double.NaN : c.mean() / local.mean();
    }

    static String phaseLabel(String phase) {
        return switch (phase) {
            case "local" -> "local disk";
            case "deploying" -> "bmcast, during deployment";
            case "devirtualized" -> "bmcast, after de-virtualization";
            case "remote-only" -> "remote-only (no background copy)";
            default -> phase;
        };
    }

    static String jobLabel(String job) {
        return switch (job) {
            case "pgbench" -> "pgbench tps";
            case "fio-seqread" -> "seq read MB/s";
            case "fio-seqwrite" -> "seq write MB/s";
            case "fio-randread" -> "4K rand read IOPS";
            default -> job;
        };
    }

    String format() {
        StringBuilder b = new StringBuilder();
        List<String> jobs = new ArrayList<>();
        for (String j : concat(DB_JOBS, FIO_JOBS)) {
            if (WorkloadRun.PHASES.stream().anyMatch(p -> cell(j, p).samples() > 0)) jobs.add(j);
        }
        b.append(String.format(Locale.ROOT, "%-34s", "mean of per-second samples"));
        for (String j : jobs) b.append(String.format(Locale.ROOT, " %24s", jobLabel(j)));
        b.append('\n');
        for (String phase : WorkloadRun.PHASES) {
            b.append(String.format(Locale.ROOT, "%-34s", phaseLabel(phase)));
            for (String j : jobs) {
                Cell c = cell(j, phase);
                double pct = ofLocal(j, phase);
                String text = c.samples() == 0 ? "-" : String.format(Locale.ROOT, "%.1f %s (n=%d)", c.mean(),
                        Double.isNaN(pct) ? "" : String.format(Locale.ROOT, "%5.1f%%", 100 * pct), c.samples());
                b.append(String.format(Locale.ROOT, " %24s", text));
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** The targets, reported (not asserted). */
    String targets() {
        StringBuilder b = new StringBuilder("targets (reported, not asserted):\n");
        for (String j : concat(DB_JOBS, FIO_JOBS)) {
            target(b, j, "deploying", TARGET_DEPLOYING);
            target(b, j, "devirtualized", TARGET_DEVIRTUALIZED);
        }
        return b.toString();
    }

    private void target(StringBuilder b, String job, String phase, double goal) {
        double r = ofLocal(job, phase);
        if (Double.isNaN(r)) {
            if (cell(job, "local").samples() > 0 && cell(job, phase).samples() == 0 && phase.equals("deploying")) {
                b.append(String.format(Locale.ROOT, "  %-18s %-32s >= %3.0f%% of local: not measured (no sample "
                        + "before de-virtualization)%n", jobLabel(job), phaseLabel(phase), 100 * goal));
            }
            return;
        }
        b.append(String.format(Locale.ROOT, "  %-18s %-32s >= %3.0f%% of local: %6.1f%%  %s%n", jobLabel(job),
                phaseLabel(phase), 100 * goal, 100 * r, r >= goal ? "met" : "MISSED"));
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        cells.forEach((job, byPhase) -> {
            Map<String, Object> phases = new LinkedHashMap<>();
            byPhase.forEach((phase, c) -> {
                if (c.samples() == 0) return;
                Map<String, Object> cell = new LinkedHashMap<>();
                cell.put("mean", StartupTable.round(c.mean()));
                cell.put("samples", c.samples());
                double pct = ofLocal(job, phase);
                if (!Double.isNaN(pct)) cell.put("ofLocal", StartupTable.round(pct));
                phases.put(phase, cell);
            });
            if (!phases.isEmpty()) m.put(job, phases);
        });
        return m;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
