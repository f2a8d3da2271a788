package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.node.NodeState;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import io.bmcast.vmm.DiskBus;
import io.bmcast.vmm.GuestConsole;
import io.bmcast.vmm.Qemu;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One streamed deployment of the busybox sample guest for end-to-end tests: the image server ({@code bmcast
 * image-server}, a separate process so it can be killed) exporting the guest's disk over an emulated link, and an
 * {@link Instance} (mediator process + QEMU) running in a thread of its own while the test drives the guest's
 * console. {@link #close()} aborts the instance and kills every process whatever state the test left.
 */
final class Deployment implements AutoCloseable {
    static final Duration BOOT = Duration.ofSeconds(120);
    static final Duration CMD = Duration.ofSeconds(120);
    static final Duration HYDRATION = Duration.ofSeconds(180);
    static final Duration EXIT = Duration.ofSeconds(90);

    final GuestImage guest;
    final ClientTestProcesses procs;
    final Path dir;
    final Path imageDir;
    final Path imageSocket;
    final Path disk;
    final Path state;
    final Path events;
    final Path console;
    private ClientTestProcesses.Server imageServer;
    private String rate;
    private io.bmcast.node.MediatorConfig.Hydration hydration = io.bmcast.node.MediatorConfig.Hydration.DEFAULTS;
    /** The guest's disk device for {@link #start}. */
    DiskBus bus = DiskBus.DEFAULT;
    private Instance instance;
    private final CompletableFuture<Qemu> vmm = new CompletableFuture<>();
    private final CompletableFuture<Instance.Result> result = new CompletableFuture<>();

    private Deployment(GuestImage guest, Path dir) throws IOException {
        this.guest = guest;
        this.dir = dir;
        this.procs = new ClientTestProcesses();
        // The image server exports every file of a directory: give it one holding only the guest's disk.
        this.imageDir = Files.createDirectories(dir.resolve("images"));
        Files.createSymbolicLink(imageDir.resolve("disk.img"), guest.disk());
        this.imageSocket = procs.path("image.sock");
        this.disk = dir.resolve("local-disk.img");
        this.state = dir.resolve("state");
        this.events = dir.resolve("events.jsonl");
        this.console = dir.resolve("console.log");
    }

    /** The busybox guest, built once into the cache and reused. */
    static GuestImage busybox() throws IOException {
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        return b.build(b.defaultDir());
    }

    static Deployment of(Path dir) throws IOException {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        return new Deployment(busybox(), dir);
    }

    /**
     * Makes the local disk a (sparse, zero) file of {@code size} bytes before the instance starts: a machine whose
     * disk is larger than the image.
     */
    void localDiskOf(long size) throws IOException {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    /** {@code bmcast instance run} arguments for this deployment, as an operator (or the fleet agent) gives them. */
    java.util.List<String> instanceRunArgs(String... more) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("instance", "run", "--image",
                imageUri().toString(), "--disk", disk.toString(), "--state", state.toString(), "--kernel",
                guest.kernel().toString(), "--initrd", guest.initrd().toString(), "--append", guest.append(), "--console", console.toString(), "--events",
                events.toString()));
        a.addAll(java.util.List.of(more));
        return a;
    }

    NbdUri imageUri() {
        return NbdUri.unix(imageSocket, "disk");
    }

    /** Starts the image server with the link limited to {@code rate} (e.g. {@code 200Mbit}). */
    void startImageServer(String rate) throws IOException {
        this.rate = rate;
        imageServer = procs.bmcastOn(imageSocket, "image-server", "--dir", imageDir.toString(), "--socket",
                imageSocket.toString(), "--rate", rate);
    }

    /** SIGKILL to the image server: no goodbye to the mediator. */
    void killImageServer() throws InterruptedException {
        procs.kill9(imageServer);
    }

    /** The same image server again, on the same socket path. */
    void restartImageServer() throws IOException {
        imageServer = procs.restart(imageServer);
    }

    /**
     * Deploys the guest: the instance runs in a thread of its own until the guest powers off.
     *
     * @param hydrateRate background copy rate in bytes per second
     * @param append      kernel command line
     * @param readyMarker what the guest prints when it is ready, or null for none
     * @param onVmm       called in the instance's thread right after QEMU starts (keep it short)
     */
    void start(long hydrateRate, String append, String readyMarker, Consumer<Qemu> onVmm) throws IOException {
        start(hydrateRate, append, readyMarker, onVmm, event -> {});
    }

    /** ... and {@code onEvent} called with each event's name in the instance's thread as it is recorded. */
    void start(long hydrateRate, String append, String readyMarker, Consumer<Qemu> onVmm, Consumer<String> onEvent)
            throws IOException {
        // As `instance run` and the agent do: the accelerator is decided before the instance's clock starts.
        io.bmcast.vmm.Accel.detect(guest.kernel());
        Instance.Spec spec = new Instance.Spec(imageUri(), disk, state, guest.kernel(), guest.initrd(), append, 512, bus,
                console, events, 64 << 10, hydrateRate, readyMarker).withHydration(hydration);
        EventLog log = new EventLog(System.nanoTime(), events, System.out);
        log.addListener(onEvent);
        instance = new Instance(spec, log, System.out, q -> {
            vmm.complete(q);
            onVmm.accept(q);
        });
        Instance inst = instance;
        Thread.ofPlatform().name("instance").daemon().start(() -> {
            try (log) {
                result.complete(inst.run());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            } finally {
                vmm.completeExceptionally(new IllegalStateException("the instance ended before QEMU started"));
            }
        });
    }

    /** The background copy's settings for the next {@link #start} ({@code --hydrate-share} ...). */
    void hydration(io.bmcast.node.MediatorConfig.Hydration h) {
        this.hydration = h;
    }

    void start(long hydrateRate) throws IOException {
        start(hydrateRate, guest.append(), guest.readyMarker(), q -> {});
    }

    Instance instance() {
        return instance;
    }

    /** The guest's console once QEMU runs. */
    GuestConsole console() throws Exception {
        return get(vmm, BOOT, "QEMU to start").console();
    }

    /** Waits for the guest's ready marker (through the instance, which watches for it). */
    GuestConsole awaitReady() throws Exception {
        GuestConsole con = console();
        get(instance.guestReady(), BOOT, "the guest to be ready");
        return con;
    }

    /** Runs a command in the guest and requires it to succeed; returns its output. */
    String run(String command) throws Exception {
        GuestConsole.Result r = console().run(command, CMD);
        assertTrue(r.ok(), "guest command '" + command + "' failed (" + r.exitCode() + "):\n" + r.output());
        return r.output();
    }

    /** {@code sha256sum -c} of the image's test data in the guest; requires every file to check out. */
    void checkImageData() throws Exception {
        assertAllOk(run("cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS"), guest.checksums().size());
    }

    static void assertAllOk(String sha256sumOutput, int files) {
        assertEquals(files, sha256sumOutput.lines().filter(l -> l.endsWith(": OK")).count(), sha256sumOutput);
    }

    /**
     * Writes {@code mib} MiB of random bytes to {@code path} in the guest, records its SHA-256 next to it in
     * {@code path.sha256} (sha256sum format, so the guest can check it later), syncs; returns the hash.
     */
    String writeRandomFile(String path, int mib) throws Exception {
        String out = run("dd if=/dev/urandom of=" + path + " bs=1M count=" + mib + " 2>/dev/null && sha256sum " + path
                + " > " + path + ".sha256 && sync && cat " + path + ".sha256");
        Matcher m = Pattern.compile("(?m)^([0-9a-f]{64})  " + Pattern.quote(path) + "$").matcher(out);
        assertTrue(m.find(), "no checksum for " + path + " in:\n" + out);
        return m.group(1);
    }

    /** The mediator's last status.json. */
    Map<String, Object> status() throws IOException {
        Map<String, Object> s = NodeState.readStatus(state);
        assertTrue(s != null, "the mediator wrote no status");
        return s;
    }

    static long number(Map<String, Object> status, String key) {
        return ((Number) status.get(key)).longValue();
    }

    /** Waits until the instance has de-virtualized the guest's disk (the state's marker exists). */
    void awaitDevirtualized() throws Exception {
        long deadline = System.nanoTime() + HYDRATION.toNanos();
        while (!NodeState.isDevirtualized(state)) {
            if (result.isDone()) fail("the instance ended before de-virtualizing: " + describe(result));
            if (System.nanoTime() > deadline) {
                fail("not de-virtualized within " + HYDRATION.toSeconds() + " s; status: " + NodeState.readStatus(state));
            }
            Thread.sleep(100);
        }
    }

    /**
     * Shuts the guest down the way a test may rely on: the root file system remounted read-only (the journal
     * checkpointed, so e2fsck and debugfs on the host see a clean file system), then power off.
     */
    Instance.Result powerOff(boolean remountReadOnly) throws Exception {
        console().send((remountReadOnly ? "sync; mount -o remount,ro /; " : "") + "sync; poweroff -f");
        return get(result, EXIT, "the instance to end after the guest powered off");
    }

    /** After power-off: e2fsck finds nothing wrong with the local disk. */
    void assertFileSystemClean() {
        Tools.Result fsck = Tools.run(Duration.ofMinutes(2), "e2fsck", "-fn", disk.toString());
        assertEquals(0, fsck.exitCode(), "e2fsck -fn on the local disk:\n" + fsck.stdout() + fsck.stderr());
    }

    /** After power-off: the image's test data, read from the local disk by debugfs, is intact. */
    void assertImageDataOnDisk() throws IOException {
        for (var e : guest.checksums().entrySet()) {
            assertEquals(e.getValue(), sha256(Ext4Image.readFile(disk, guest.dataDir() + "/" + e.getKey())), e.getKey());
        }
    }

    /** After power-off: the file the guest wrote is on the local disk with the checksum the guest computed. */
    void assertFileOnDisk(String path, String sha256) throws IOException {
        assertEquals(sha256, sha256(Ext4Image.readFile(disk, path)), path + " on the local disk");
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    String eventsText() throws IOException {
        return Files.exists(events) ? Files.readString(events) : "";
    }

    long eventCount(String event) throws IOException {
        return eventsText().lines().filter(l -> l.contains("\"event\":\"" + event + "\"")).count();
    }

    private String describe(CompletableFuture<Instance.Result> f) {
        try {
            return String.valueOf(f.getNow(null));
        } catch (Exception e) {
            return e.getCause() == null ? e.toString() : e.getCause().toString();
        }
    }

    static <T> T get(CompletableFuture<T> f, Duration timeout, String what) throws Exception {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what);
        } catch (ExecutionException e) {
            throw new AssertionError("while waiting for " + what + ": " + e.getCause(), e.getCause());
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (instance != null && !result.isDone()) {
                instance.abort();
                try {
                    result.get(90, TimeUnit.SECONDS);
                } catch (ExecutionException | TimeoutException expected) {
                    // aborted: run() stopped QEMU and the mediator on its way out
                }
            }
        } finally {
            procs.close();
        }
    }
}
