package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code bmcast instance run} as a child process in a session of its own ({@code setsid}): the mediator and
 * QEMU it starts share its process group, so the agent can stop all of them with one signal, and the whole
 * session outlives the agent (an agent killed with -9 and restarted finds it running and supervises it again).
 * Output goes to a log file, never a pipe, since nobody might be reading it.
 *
 * <p>A process is recognized as ours by its pid, its start time and its command line (which names our state
 * dir), so a recycled pid is never mistaken for the instance.
 */
final class InstanceProcess {
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);

    private final ProcessHandle handle;
    private final Instant startedAt;

    private InstanceProcess(ProcessHandle handle, Instant startedAt) {
        this.handle = handle;
        this.startedAt = startedAt;
    }

    long pid() {
        return handle.pid();
    }

    /** Milliseconds since the epoch, as the kernel has it: with the pid, the process's identity. */
    long startedAtMillis() {
        return startedAt == null ? 0 : startedAt.toEpochMilli();
    }

    boolean isAlive() {
        return Proc.running(handle.pid());
    }

    /** The exit code when this agent started it and it has ended; empty when unknown (or still running). */
    Optional<Integer> exitCode() {
        if (child != null && !child.isAlive()) return Optional.of(child.exitValue());
        return Optional.empty();
    }

    /** Set when this agent started the process (then Java reaps it and knows its exit code). */
    private Process child;

    static InstanceProcess spawn(List<String> instanceArgs, InstanceFiles files) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("setsid", ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "io.bmcast.cli.Main", "instance", "run"));
        cmd.addAll(instanceArgs);
        Files.createDirectories(files.dir());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(files.log().toFile())).start();
        InstanceProcess ip = new InstanceProcess(p.toHandle(), p.toHandle().info().startInstant().orElse(null));
        ip.child = p;
        return ip;
    }

    /**
     * The instance process recorded as {@code pid} started at {@code startedAtMillis}, if it still runs and is
     * still ours; empty otherwise.
     */
    static Optional<InstanceProcess> find(long pid, long startedAtMillis, InstanceFiles files) {
        if (!Proc.running(pid)) return Optional.empty();
        return ProcessHandle.of(pid).filter(h -> {
            ProcessHandle.Info info = h.info();
            long started = info.startInstant().map(Instant::toEpochMilli).orElse(-1L);
            // /proc gives start times in clock ticks: allow their rounding.
            if (startedAtMillis != 0 && Math.abs(started - startedAtMillis) > 50) return false;
            String cmdline = info.commandLine().orElse("");
            return cmdline.contains("io.bmcast.cli.Main") && cmdline.contains(files.state().toString());
        }).map(h -> new InstanceProcess(h, h.info().startInstant().orElse(null)));
    }

    /**
     * SIGTERM to the instance (it powers the guest off: ACPI, then a kill after its grace), a wait of
     * {@code patience}, then SIGKILL to its whole process group, and a wait until nothing of it is left: only then
     * may the disk be scrubbed, or a late write from QEMU or the mediator could land after the scrub.
     *
     * @return true when the instance stopped by itself within its patience
     */
    boolean stop(Duration patience) throws IOException, InterruptedException {
        long pid = handle.pid();
        boolean clean = true;
        if (isAlive()) {
            Posix.killProcess(pid, Posix.SIGTERM);
            long until = System.nanoTime() + patience.toNanos();
            while (isAlive() && System.nanoTime() < until) Thread.sleep(50);
            clean = !isAlive();
        }
        // The group outlives its leader when QEMU or the mediator lingers (or the leader died with -9 before).
        long deadline = System.nanoTime() + KILL_WAIT.toNanos();
        List<Long> left;
        while (!(left = Proc.groupMembers(pid)).isEmpty()) {
            clean = false;
            Posix.killGroup(pid, Posix.SIGKILL);
            if (System.nanoTime() > deadline) throw new IOException("processes " + left + " of the instance survived SIGKILL");
            Thread.sleep(50);
        }
        return clean;
    }
}
