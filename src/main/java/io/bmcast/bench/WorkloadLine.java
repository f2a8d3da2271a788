package io.bmcast.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One line the workload guest ({@code debian-db}) prints on its console, e.g.
 * {@code bmcast-workload: pgbench t=3.0 tps=41.2 lat_ms=96.8 n=34} or {@code bmcast-workload: done fio-randread n=17}:
 * a word and {@code key=value} pairs. Figures are jobs ({@code pgbench}, {@code fio-seqread}, ...) with a {@code t};
 * {@code start}, {@code done} and {@code failed} name the job they are about as their second word.
 *
 * <p>The guest's serial console, under TCG on a busy host, now and then repeats a character ({@code bmmcast},
 * {@code tps=334.4} for 34.4: seen here). Every line therefore ends with {@code n=} the length of what precedes it
 * after the prefix; a line whose length disagrees is not the guest's and is dropped.
 *
 * @param word   {@code start}, {@code done}, {@code failed}, or the job of a figure
 * @param job    the job the line is about
 * @param fields the {@code key=value} pairs, in order
 */
public record WorkloadLine(String word, String job, Map<String, String> fields) {
    public static final String PREFIX = "bmcast-workload:";
    /** {@code PREFIX BODY n=LENGTH}, the body being a word and more words, each after one space. */
    private static final Pattern LINE = Pattern.compile("bmcast-workload: ((\\S+)((?: \\S+)*)) n=([0-9]{1,6})\\s*$");

    /** The line's meaning, or empty when it is not a workload line (the console carries everything else too). */
    public static Optional<WorkloadLine> parse(String line) {
        int at = line.indexOf(PREFIX);
        if (at < 0) return Optional.empty();
        Matcher m = LINE.matcher(line.substring(at));
        if (!m.matches()) return Optional.empty();
        if (m.group(1).length() != Integer.parseInt(m.group(4))) return Optional.empty();
        String word = m.group(2);
        String job = word;
        Map<String, String> fields = new LinkedHashMap<>();
        for (String token : m.group(3).strip().split(" ")) {
            if (token.isEmpty()) continue;
            int eq = token.indexOf('=');
            if (eq > 0) {
                fields.put(token.substring(0, eq), token.substring(eq + 1));
            } else if (job.equals(word) && isEvent(word)) {
                job = token;
            }
        }
        return Optional.of(new WorkloadLine(word, job, fields));
    }

    private static boolean isEvent(String word) {
        return word.equals("start") || word.equals("done") || word.equals("failed");
    }

    /** True for a figure: a job's per-second sample. */
    public boolean isSample() {
        return !isEvent(word) && fields.containsKey("t");
    }

    /** A figure's value for {@code key}, or NaN when absent or not a number. */
    public double value(String key) {
        String v = fields.get(key);
        if (v == null) return Double.NaN;
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** The metric a job reports: {@code tps} for pgbench, {@code mbps} or {@code iops} for fio's jobs. */
    public static String metricOf(String job) {
        return switch (job) {
            case "pgbench" -> "tps";
            case "fio-randread" -> "iops";
            default -> "mbps";
        };
    }
}
