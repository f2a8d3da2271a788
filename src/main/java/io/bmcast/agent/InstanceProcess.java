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
 *
 * <p>Everything the instance starts carries {@link #MARKER} in its environment (the mediator and QEMU inherit it),
 * so what is left of an instance is found through {@code /proc} even when its leader died with -9, or when the
 * agent died before it saved the pid: see {@link #killRemnants}. No parent-death signal is asked for: Linux sends
 * it when the <em>thread</em> that forked exits, and {@code instance run} starts QEMU from a virtual thread whose
 * carrier may retire at any time; a guest killed by a thread pool's housekeeping would be worse than a remnant.
 */
final class InstanceProcess {
    private static final Duration KILL_WAIT = Duration.ofSeconds(10);
    private static final Duration PID_WAIT = Duration.ofSeconds(10);
    /** Names the instance's state dir in the environment of every process of the instance. */
    static final String MARKER = "BMCAST_INSTANCE_STATE";

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

    static InstanceProcess spawn(List<String> instanceArgs, InstanceFiles files) throws IOException, InterruptedException {
        List<String> program = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "io.bmcast.cli.Main", "instance", "run"));
        program.addAll(instanceArgs);
        return spawnProgram(program, files);
    }

    /** {@code program} started as the instance is (its session, its log, its marker). Visible for testing. */
    static InstanceProcess spawnProgram(List<String> program, InstanceFiles files) throws IOException, InterruptedException {
        Files.createDirectories(files.dir());
        Path pidFile = files.dir().resolve("instance.pid");
        Files.deleteIfExists(pidFile);
        // setsid forks when its caller leads a process group (it does under some launchers), so the pid Java sees
        // may not be the instance's: the shell inside the new session writes its own pid, then becomes the JVM.
        List<String> cmd = new ArrayList<>(List.of("setsid", "sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", pidFile.toString()));
        cmd.addAll(program);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(io.bmcast.imagestore.StoreCredentials.forChildren()); // an s3:// image's mediator reads the store
        pb.environment().put(MARKER, files.state().toString());
        Process p = pb.redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(files.log().toFile())).start();
        long deadline = System.nanoTime() + PID_WAIT.toNanos();
        long pid = -1;
        while (pid < 0) {
            try {
                String text = Files.readString(pidFile).strip();
                if (!text.isEmpty()) pid = Long.parseLong(text);
            } catch (java.nio.file.NoSuchFileException | NumberFormatException notYet) {
                // the shell has not written it yet
            }
            if (pid < 0 && System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("the instance process did not start within " + PID_WAIT.toSeconds() + " s: " + files.tail(5));
            }
            if (pid < 0) Thread.sleep(10);
        }
        ProcessHandle h = ProcessHandle.of(pid).orElseThrow(() -> new IOException("the instance process exited at once: " + files.tail(5)));
        InstanceProcess ip = new InstanceProcess(h, h.info().startInstant().orElse(null));
        if (p.pid() == pid) ip.child = p;
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
            String cmdline = Proc.commandLine(h.pid());
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

    /**
     * Kills what is left of the instance, whether or not its leader lives: every running process that carries the
     * instance's {@link #MARKER} or names its state dir (or {@code privateDisk}, the agent's own disk file) on its
     * command line, and every member of process group {@code pgid} once one member is proved ours that way (a
     * process group id is only reused when no process of the group is left, so a group holding one of ours is
     * ours). SIGTERM first, SIGKILL after {@code grace}, then a wait until a fresh look finds nothing.
     *
     * @param pgid the instance's recorded pid (its session and group), or 0 when none was recorded
     * @param privateDisk a disk file only the agent uses, or null (a device's name may be on anyone's command line)
     * @return what was found, as "pid N (command)", for the log; empty when nothing was left
     * @throws IOException when something survives SIGKILL
     */
    static List<String> killRemnants(long pgid, InstanceFiles files, Path privateDisk, Duration grace) throws IOException, InterruptedException {
        List<Long> left = remnants(pgid, files, privateDisk);
        List<String> found = new ArrayList<>();
        for (long pid : left) found.add("pid " + pid + " (" + DiskHolders.shown(pid) + ")");
        if (left.isEmpty()) return found;
        for (long pid : left) Posix.killProcess(pid, Posix.SIGTERM);
        long until = System.nanoTime() + grace.toNanos();
        while (!(left = remnants(pgid, files, privateDisk)).isEmpty() && System.nanoTime() < until) Thread.sleep(50);
        long deadline = System.nanoTime() + KILL_WAIT.toNanos();
        while (!left.isEmpty()) {
            for (long pid : left) Posix.killProcess(pid, Posix.SIGKILL);
            if (System.nanoTime() > deadline) throw new IOException("processes " + left + " of the instance survived SIGKILL");
            Thread.sleep(50);
            left = remnants(pgid, files, privateDisk);
        }
        return found;
    }

    /** The running processes of the instance (see {@link #killRemnants}); never the agent itself. */
    static List<Long> remnants(long pgid, InstanceFiles files, Path privateDisk) throws IOException {
        long self = ProcessHandle.current().pid();
        String state = files.state().toString();
        String marker = "\0" + MARKER + "=" + state + "\0";
        List<Long> ours = new ArrayList<>();
        List<Long> group = new ArrayList<>();
        boolean groupIsOurs = false;
        for (long pid : Proc.pids()) {
            if (pid == self || pid <= 1) continue;
            Proc.Stat st = Proc.stat(pid);
            if (st == null || !st.running()) continue;
            String cmdline = Proc.commandLine(pid);
            boolean marked = names(cmdline, state) || privateDisk != null && names(cmdline, privateDisk.toString())
                    || Proc.environment(pid).contains(marker);
            boolean member = pgid > 1 && st.pgrp() == pgid;
            if (marked) ours.add(pid);
            else if (member) group.add(pid);
            if (marked && member) groupIsOurs = true;
        }
        if (groupIsOurs) ours.addAll(group);
        return ours;
    }

    /** Whether {@code text} holds {@code path} as a whole path or a directory of one (not a longer name's prefix). */
    static boolean names(String text, String path) {
        for (int i = text.indexOf(path); i >= 0; i = text.indexOf(path, i + 1)) {
            int end = i + path.length();
            if (end == text.length()) return true;
            char c = text.charAt(end);
            if (!(Character.isLetterOrDigit(c) || c == '-' || c == '_' || c == '.')) return true;
        }
        return false;
    }
}
