package io.bmcast.vmm;

import io.bmcast.guest.HostCommand;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One running QEMU: the thin VMM under a bmcast instance.
 *
 * <p>QEMU is started paused ({@code -S}) so that the console and QMP are connected before the guest runs its
 * first instruction: a console socket without a client drops output, and the ready marker must not be lost.
 * The disk is given as {@code -blockdev} nodes with fixed names (see {@link GuestDisk}) so de-virtualization and
 * block jobs can address them over QMP. There is no display, no network and no default devices: the guest
 * has a serial console and one disk, nothing that could make a boot slower or a comparison unfair.
 */
public final class Qemu implements AutoCloseable {
    public static final String BINARY = "qemu-system-x86_64";

    private final QemuSpec spec;
    private final Accel accel;
    private final Process process;
    private final Qmp qmp;
    private final GuestConsole console;
    private final long startedNanos;
    private final List<String> argv;

    private Qemu(QemuSpec spec, Accel accel, Process process, Qmp qmp, GuestConsole console, long startedNanos,
            List<String> argv) {
        this.spec = spec;
        this.accel = accel;
        this.process = process;
        this.qmp = qmp;
        this.console = console;
        this.startedNanos = startedNanos;
        this.argv = argv;
    }

    /** QMP control socket, in the work dir. */
    public static Path qmpSocket(Path workDir) { return workDir.resolve("qmp.sock"); }

    /** Serial console socket, in the work dir. */
    public static Path consoleSocket(Path workDir) { return workDir.resolve("console.sock"); }

    /** Everything the guest printed on its console, also while no one was connected. */
    public static Path consoleLog(Path workDir) { return workDir.resolve("console.log"); }

    /** QEMU's own stdout and stderr. */
    public static Path qemuLog(Path workDir) { return workDir.resolve("qemu.log"); }

    /**
     * Starts QEMU for {@code spec}, connects QMP and the console, then lets the guest run. On any failure the
     * process is killed and the error carries the tail of QEMU's log.
     */
    public static Qemu start(QemuSpec spec) throws IOException {
        Qemu q = launch(spec, true);
        q.resume();
        return q;
    }

    /**
     * Starts QEMU for {@code spec} paused and without its disk: QMP and the console are connected, the guest has
     * not run an instruction. {@link #attachDisk} adds the disk's nodes and device, {@link #resume} lets the guest
     * run. This is how an instance starts QEMU while its mediator is still starting: QEMU's own start (~0.2 s
     * here) overlaps the mediator's, and the NBD node, which connects when it is added, is added once the
     * mediator listens. A device added before the guest first runs is found by the firmware and the kernel as
     * one given on the command line is (checked on QEMU 7.2 with NVMe, virtio-blk and a disk's own boot loader).
     */
    public static Qemu startWithoutDisk(QemuSpec spec) throws IOException {
        return launch(spec, false);
    }

    private static Qemu launch(QemuSpec spec, boolean withDisk) throws IOException {
        Files.createDirectories(spec.workDir());
        for (Path p : List.of(qmpSocket(spec.workDir()), consoleSocket(spec.workDir()))) {
            if (p.toString().length() > 107) throw new IOException("socket path too long for Unix sockets: " + p);
            Files.deleteIfExists(p);
        }
        Path overlay = switch (spec.disk()) {
            case GuestDisk.CopyOnRead c -> c.overlay();
            case GuestDisk.Overlay o -> o.overlay();
            default -> null;
        };
        if (overlay != null) {
            long size = spec.disk() instanceof GuestDisk.CopyOnRead c ? c.size() : ((GuestDisk.Overlay) spec.disk()).size();
            HostCommand.run(Duration.ofMinutes(1), List.of("qemu-img", "create", "-q", "-f", "qcow2",
                    overlay.toString(), Long.toString(size)));
        }
        Accel accel = spec.accel() != null ? spec.accel() : Accel.detect(spec.kernel());
        List<String> argv = commandLine(spec, accel, withDisk);
        Path log = qemuLog(spec.workDir());
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Qmp qmp = null;
        GuestConsole console = null;
        try {
            qmp = connectWhileAlive(p, spec.workDir());
            console = GuestConsole.connect(consoleSocket(spec.workDir()), null, Duration.ofSeconds(10));
            return new Qemu(spec, accel, p, qmp, console, t0, argv);
        } catch (IOException | RuntimeException e) {
            if (console != null) console.close();
            if (qmp != null) qmp.close();
            kill(p);
            throw new IOException("QEMU failed to start: " + e.getMessage() + "\ncommand: " + String.join(" ", argv)
                    + "\nqemu log:\n" + readTail(log), e);
        }
    }

    /**
     * Adds the disk's block nodes (bottom first) and its device to a QEMU started {@linkplain #startWithoutDisk
     * without them}. The NBD node connects as it is added: a server not listening fails it, and then the nodes
     * added so far are removed again, so that the call can be repeated once the server is back.
     */
    public void attachDisk() throws IOException {
        List<String> added = new ArrayList<>();
        try {
            for (Map<String, Object> node : blockNodes(spec.disk())) {
                qmp.execute("blockdev-add", node);
                added.add((String) node.get("node-name"));
            }
            qmp.execute("device_add", device(spec));
        } catch (IOException e) {
            for (String name : added.reversed()) {
                try {
                    qmp.execute("blockdev-del", Map.of("node-name", name));
                } catch (IOException ignored) {
                    // QEMU is gone or the node is in use: the caller stops QEMU on the first error anyway
                }
            }
            throw e;
        }
    }

    /** Lets the guest run ({@code cont}); on failure QEMU is killed and the error carries its log's tail. */
    public void resume() throws IOException {
        try {
            qmp.execute("cont", Map.of());
        } catch (IOException e) {
            console.close();
            qmp.close();
            kill(process);
            throw new IOException("QEMU failed to start: " + e.getMessage() + "\ncommand: " + String.join(" ", argv)
                    + "\nqemu log:\n" + readTail(qemuLog(spec.workDir())), e);
        }
    }

    private static void kill(Process p) {
        p.destroyForcibly();
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    private static Qmp connectWhileAlive(Process p, Path workDir) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) throw new IOException("QEMU exited with code " + p.exitValue());
            if (Files.exists(qmpSocket(workDir))) {
                try {
                    return Qmp.connect(qmpSocket(workDir), Duration.ofSeconds(2));
                } catch (IOException e) {
                    last = e;
                }
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        throw new IOException("QMP socket not ready within 30 s", last);
    }

    /** The full QEMU command line for {@code spec}: pure, for tests and for printing. */
    public static List<String> commandLine(QemuSpec spec, Accel accel) {
        return commandLine(spec, accel, true);
    }

    /** ... and without the disk's nodes and device when {@code withDisk} is false ({@link #startWithoutDisk}). */
    static List<String> commandLine(QemuSpec spec, Accel accel, boolean withDisk) {
        Path w = spec.workDir();
        List<String> a = new ArrayList<>(List.of(BINARY, "-name", "bmcast-guest", "-accel", accel.qemuName(),
                "-m", Integer.toString(spec.memoryMiB()), "-nodefaults", "-no-user-config", "-display", "none",
                "-no-reboot", "-S",
                "-qmp", "unix:" + qmpSocket(w) + ",server=on,wait=off",
                "-chardev", "socket,id=con0,path=" + consoleSocket(w) + ",server=on,wait=off,logfile="
                        + consoleLog(w) + ",logappend=on",
                "-serial", "chardev:con0"));
        if (spec.kernel() != null) {
            a.addAll(List.of("-kernel", spec.kernel().toString()));
            if (spec.initrd() != null) a.addAll(List.of("-initrd", spec.initrd().toString()));
            String append = spec.bus().withKernelArgs(spec.append());
            if (append != null) a.addAll(List.of("-append", append));
        }
        if (withDisk) {
            for (Map<String, Object> node : blockNodes(spec.disk())) a.addAll(List.of("-blockdev", json(node)));
            StringBuilder dev = new StringBuilder();
            for (Map.Entry<String, Object> e : device(spec).entrySet()) {
                if (e.getKey().equals("driver")) dev.append(e.getValue());
                else dev.append(',').append(e.getKey()).append('=').append(e.getValue());
            }
            a.addAll(List.of("-device", dev.toString()));
        }
        a.addAll(spec.extraArgs());
        return a;
    }

    /** The guest disk's device, as {@code device_add} takes it (driver first, as on the command line). */
    private static Map<String, Object> device(QemuSpec spec) {
        Map<String, Object> d = node("driver", spec.bus().qemuDevice(), "id", "disk0", "drive", topNode(spec.disk()));
        if (spec.bus() == DiskBus.NVME) d.put("serial", "bmcast0");
        if (spec.kernel() == null) d.put("bootindex", 0);
        return d;
    }

    /** A block node's properties in the order given, so the command line reads as QEMU's documentation does. */
    private static Map<String, Object> node(String... keysAndValues) {
        Map<String, Object> n = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) n.put(keysAndValues[i], keysAndValues[i + 1]);
        return n;
    }

    private static String json(Map<String, Object> node) {
        try {
            return Jackson.MAPPER.writeValueAsString(node);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a block node of strings and numbers is always JSON", e);
        }
    }

    /** The {@code -blockdev} nodes for a disk, bottom first. */
    static List<Map<String, Object>> blockNodes(GuestDisk disk) {
        return switch (disk) {
            case GuestDisk.Nbd n -> List.of(nbdNode(n.socket(), n.exportName(), n.reconnectDelaySeconds()),
                    node("driver", "raw", "node-name", GuestDisk.FORMAT_NODE, "file", GuestDisk.NBD_NODE));
            case GuestDisk.Local l -> List.of(localNode(l.file()),
                    node("driver", "raw", "node-name", GuestDisk.FORMAT_NODE, "file", GuestDisk.LOCAL_NODE));
            case GuestDisk.CopyOnRead c -> {
                List<Map<String, Object>> nodes = new ArrayList<>(overlayNodes(c.socket(), c.overlay()));
                nodes.add(node("driver", "copy-on-read", "node-name", "cor", "file", GuestDisk.FORMAT_NODE));
                yield nodes;
            }
            case GuestDisk.Overlay o -> overlayNodes(o.socket(), o.overlay());
        };
    }

    /**
     * A qcow2 overlay ({@code fmt}) over the server's default export. The backing is opened read-only: nothing ever
     * writes to it (the overlay takes the guest's writes and block-stream's copies), and an image server's
     * exports are read-only, which QEMU refuses to open read-write ("Permission denied").
     */
    private static List<Map<String, Object>> overlayNodes(Path socket, Path overlay) {
        Map<String, Object> nbd = nbdNode(socket, "", 20);
        nbd.put("read-only", true);
        return List.of(nbd,
                node("driver", "file", "node-name", "overlay-file", "filename", overlay.toString()),
                node("driver", "qcow2", "node-name", GuestDisk.FORMAT_NODE, "file", "overlay-file",
                        "backing", GuestDisk.NBD_NODE));
    }

    private static String topNode(GuestDisk disk) {
        return disk instanceof GuestDisk.CopyOnRead ? "cor" : GuestDisk.FORMAT_NODE;
    }

    static Map<String, Object> nbdNode(Path socket, String export, int reconnectDelay) {
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("driver", "nbd");
        n.put("node-name", GuestDisk.NBD_NODE);
        n.put("server", Map.of("type", "unix", "path", socket.toString()));
        if (export != null && !export.isEmpty()) n.put("export", export);
        if (reconnectDelay > 0) n.put("reconnect-delay", reconnectDelay);
        return n;
    }

    /** A file node named {@link GuestDisk#LOCAL_NODE}: {@code host_device} for a block device, else {@code file}. */
    public static Map<String, Object> localNode(Path file) {
        String driver = file.toString().startsWith("/dev/") ? "host_device" : "file";
        return node("driver", driver, "node-name", GuestDisk.LOCAL_NODE, "filename", file.toString());
    }

    /**
     * Starts {@code block-stream} on the copy-on-read disk: QEMU copies every block not yet in the overlay from
     * the NBD backing; completion is the {@code BLOCK_JOB_COMPLETED} event with this job id.
     */
    public void startBlockStream(String jobId) throws IOException {
        if (!(spec.disk() instanceof GuestDisk.CopyOnRead)) throw new IllegalStateException("not a copy-on-read disk");
        qmp.execute("block-stream", Map.of("job-id", jobId, "device", GuestDisk.FORMAT_NODE));
    }

    /**
     * Presses the guest's ACPI power button ({@code system_powerdown}): a guest that listens for it shuts down and
     * powers off, and QEMU exits ({@code -no-reboot}); one that does not keeps running.
     */
    public void powerDown() throws IOException {
        qmp.execute("system_powerdown", Map.of(), Duration.ofSeconds(5));
    }

    public Qmp qmp() { return qmp; }

    public GuestConsole console() { return console; }

    public Accel accel() { return accel; }

    public QemuSpec spec() { return spec; }

    public long pid() { return process.pid(); }

    /** Nanoseconds since the process was started (for boot-time measurements). */
    public long elapsedNanos() { return System.nanoTime() - startedNanos; }

    public boolean isAlive() { return process.isAlive(); }

    /** Waits for QEMU to exit (e.g. the guest powered off); returns its exit code. */
    public int waitFor(Duration timeout) throws IOException {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IOException("QEMU still running after " + timeout.toSeconds() + " s");
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /**
     * Stops QEMU: QMP {@code quit} (QEMU flushes its disks and exits), then SIGTERM, then SIGKILL, each given a
     * few seconds. Returns the exit code.
     */
    public int stop() {
        if (process.isAlive() && !qmp.isClosed()) {
            try {
                qmp.execute("quit", Map.of(), Duration.ofSeconds(5));
            } catch (IOException ignored) {
                // the connection drops as QEMU exits; the exit is what counts
            }
        }
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        console.close();
        qmp.close();
        return process.isAlive() ? -1 : process.exitValue();
    }

    @Override
    public void close() { stop(); }

    private static String readTail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
