package io.bmcast.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One boot of the workload guest in one mode, and what it printed.
 *
 * @param mode          {@code local}, {@code bmcast} or {@code remote-only}
 * @param workload      {@code pgbench} or {@code fio}
 * @param round         1.. with {@code --repeat}
 * @param samples       the guest's workload lines, stamped with seconds since QEMU (or the instance) started
 * @param hydrated      bmcast: seconds until every region was local, else -1
 * @param devirtualized bmcast: seconds until the guest ran on the local disk alone, else -1
 * @param error         why the run ended early, or null
 * @param extra         further figures for {@code results.json}
 */
record WorkloadRun(String mode, String workload, int round, List<ConsoleSampler.Sample> samples, double hydrated,
        double devirtualized, String error, Map<String, Object> extra) {

    /** The phases a sample can belong to, in the table's order. */
    static final List<String> PHASES = List.of("local", "deploying", "devirtualized", "remote-only");

    WorkloadRun {
        samples = List.copyOf(samples);
        extra = new LinkedHashMap<>(extra);
    }

    /**
     * The phase of a sample at {@code seconds}: a bmcast sample is "deploying" until de-virtualization (the guest's
     * I/O still goes through the mediator) and "devirtualized" from then on.
     */
    String phaseAt(double seconds) {
        return switch (mode) {
            case "bmcast" -> devirtualized >= 0 && seconds >= devirtualized ? "devirtualized" : "deploying";
            default -> mode;
        };
    }

    /** This run's figures of {@code job} in {@code phase}, in order. */
    List<double[]> points(String job, String phase) {
        List<double[]> out = new ArrayList<>();
        String metric = WorkloadLine.metricOf(job);
        for (ConsoleSampler.Sample s : samples) {
            if (!s.line().isSample() || !s.line().word().equals(job)) continue;
            double v = s.line().value(metric);
            if (Double.isNaN(v) || (phase != null && !phaseAt(s.seconds()).equals(phase))) continue;
            out.add(new double[] {s.seconds(), v});
        }
        return out;
    }
}
