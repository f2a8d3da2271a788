package io.bmcast.bench;

import io.bmcast.vmm.GuestConsole;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Reads the workload guest's console lines as they arrive and stamps each with the host's clock (seconds since
 * {@code t0}, the clock the instance's events use too), so samples and the {@code hydrated}/{@code devirtualized}
 * events share one timeline. Polls every {@value #POLL_MS} ms, so a stamp is late by at most that.
 */
final class ConsoleSampler {
    /** A workload line and when the host saw it. */
    record Sample(double seconds, WorkloadLine line) {}

    static final int POLL_MS = 100;

    private final GuestConsole console;
    private final long t0;
    // Guards offset, lines and started: the bench's driver thread polls while the final collection may read.
    private int offset;
    private final List<Sample> lines = new ArrayList<>();
    private final Map<String, Double> started = new HashMap<>(); // job -> when its latest start line arrived

    ConsoleSampler(GuestConsole console, long t0) {
        this.console = console;
        this.t0 = t0;
    }

    /**
     * Takes in every complete line printed since the last poll. A figure is placed at its job's start (when the host
     * saw {@code start JOB}, printed straight to the console) plus the guest's own {@code t}, or when it arrived if
     * that is sooner: a guest whose figures come out late or in bursts (a build of the guest before revision 4 printed
     * them all at the end of the run) still gets a true timeline.
     */
    synchronized void poll() {
        String out = console.output();
        double now = (System.nanoTime() - t0) / 1e9;
        int end;
        while ((end = out.indexOf('\n', offset)) >= 0) {
            WorkloadLine.parse(out.substring(offset, end)).ifPresent(l -> {
                if (l.word().equals("start")) started.put(l.job(), now);
                Double start = started.get(l.word());
                double t = l.value("t");
                lines.add(new Sample(l.isSample() && start != null && t >= 0 ? Math.min(now, start + t) : now, l));
            });
            offset = end + 1;
        }
    }

    /** Everything seen so far. */
    synchronized List<Sample> lines() {
        return List.copyOf(lines);
    }

    synchronized int size() {
        return lines.size();
    }

    /**
     * Waits for {@code done JOB} or {@code failed JOB} among the lines from index {@code from} on; returns the line.
     * Throws when the guest failed, the time is up, or {@code alive} turns false (QEMU is gone).
     */
    WorkloadLine awaitEnd(String job, int from, Duration timeout, BooleanSupplier alive) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            poll();
            synchronized (this) {
                for (int i = from; i < lines.size(); i++) {
                    WorkloadLine l = lines.get(i).line();
                    if (!l.job().equals(job)) continue;
                    if (l.word().equals("done")) return l;
                    if (l.word().equals("failed")) {
                        throw new IOException("the guest's " + job + " failed" + tail());
                    }
                }
            }
            if (!alive.getAsBoolean()) throw new IOException("the guest stopped before " + job + " ended" + tail());
            if (System.nanoTime() > deadline) {
                throw new IOException(job + " did not end within " + timeout.toSeconds() + " s" + tail());
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }

    private String tail() {
        String out = console.output();
        return "; console ends with:\n" + out.substring(Math.max(0, out.length() - 1500));
    }
}
