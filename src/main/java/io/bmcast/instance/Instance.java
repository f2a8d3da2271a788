package io.bmcast.instance;

import io.bmcast.node.Mediator;
import io.bmcast.node.MediatorConfig;
import io.bmcast.node.NodeState;
import io.bmcast.imagestore.ImageUri;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.Units;
import io.bmcast.vmm.Accel;
import io.bmcast.vmm.Devirtualizer;
import io.bmcast.vmm.DiskBus;
import io.bmcast.vmm.GuestDisk;
import io.bmcast.vmm.Qemu;
import io.bmcast.vmm.QemuSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.Consumer;

/**
 * One instance deployed by streaming: the mediator as a supervised child process, QEMU on top of it, and
 * the steps between them.
 *
 * <pre>
 *   start mediator ─┬─ mediator listens ── attach the disk (nbd0 on its socket, reconnect-delay) ── guest runs
 *   start QEMU ─────┘  (paused, no disk yet: the two starts overlap)
 *        ^  mediator died: restart it on the same state; QEMU holds guest I/O meanwhile
 *   hydrated (every region local, map committed) ── de-virtualize over QMP ── stop the mediator
 *   guest powers off ── if not yet hydrated, finish the copy first, so the disk ends complete
 *   stop requested (SIGTERM: the operator destroys the instance) ── ACPI power button ── grace ── kill QEMU
 *        ── stop the mediator as it is: no copy is finished for a disk about to be scrubbed
 * </pre>
 * The mediator's state stays consistent on every path (it commits its map when it stops, and survives being
 * killed), so a later run on the same state dir resumes the copy where this one left it.
 */
public final class Instance {

    /**
     * What to run. {@code kernel} null boots the disk's own boot loader. {@code stopGrace}: how long a guest asked to
     * power off (a {@linkplain #requestStop stop request}) has before QEMU is killed; zero kills at once.
     * {@code sourceExtents}: the image's cached extent map for the mediator ({@code node --source-extents}), or null.
     * {@code hydration}: the background copy's share, deadline, or none ({@code --hydrate-share} ...).
     * {@code tlsDir}: the mediator's TLS credentials for an {@code nbds://} image ({@code node --tls-dir}), or null.
     * {@code allowLowSpace}: start even when the local disk lacks room for the image's data ({@code node --allow-low-space}).
     * {@code store}: how an {@code s3://} image's chunks are fetched (cache, peers, limits: {@code node --chunk-cache} ...).
     */
    public record Spec(ImageUri image, Path disk, Path state, Path kernel, Path initrd, String append, int memoryMiB,
            DiskBus bus, Path console, Path events, long regionSize, long hydrateRate, String readyMarker,
            Duration stopGrace, Path sourceExtents, MediatorConfig.Hydration hydration, Path tlsDir,
            boolean allowLowSpace, MediatorConfig.Store store) {

        public static final Duration DEFAULT_STOP_GRACE = Duration.ofSeconds(10);

        public Spec {
            if (hydration == null) hydration = MediatorConfig.Hydration.DEFAULTS;
            if (store == null) store = MediatorConfig.Store.DEFAULTS;
        }

        public Spec(NbdUri image, Path disk, Path state, Path kernel, Path initrd, String append, int memoryMiB,
                DiskBus bus, Path console, Path events, long regionSize, long hydrateRate, String readyMarker,
                Duration stopGrace, Path sourceExtents, MediatorConfig.Hydration hydration, Path tlsDir,
                boolean allowLowSpace) {
            this(ImageUri.of(image), disk, state, kernel, initrd, append, memoryMiB, bus, console, events, regionSize,
                    hydrateRate, readyMarker, stopGrace, sourceExtents, hydration, tlsDir, allowLowSpace, null);
        }

        public Spec(NbdUri image, Path disk, Path state, Path kernel, Path initrd, String append, int memoryMiB,
                DiskBus bus, Path console, Path events, long regionSize, long hydrateRate, String readyMarker,
                Duration stopGrace, Path sourceExtents) {
            this(image, disk, state, kernel, initrd, append, memoryMiB, bus, console, events, regionSize, hydrateRate,
                    readyMarker, stopGrace, sourceExtents, MediatorConfig.Hydration.DEFAULTS, null, false);
        }

        public Spec(NbdUri image, Path disk, Path state, Path kernel, Path initrd, String append, int memoryMiB,
                DiskBus bus, Path console, Path events, long regionSize, long hydrateRate, String readyMarker,
                Duration stopGrace, Path sourceExtents, MediatorConfig.Hydration hydration) {
            this(image, disk, state, kernel, initrd, append, memoryMiB, bus, console, events, regionSize, hydrateRate,
                    readyMarker, stopGrace, sourceExtents, hydration, null, false);
        }

        /** The same instance with other background-copy settings. */
        public Spec withHydration(MediatorConfig.Hydration h) {
            return new Spec(image, disk, state, kernel, initrd, append, memoryMiB, bus, console, events, regionSize,
                    hydrateRate, readyMarker, stopGrace, sourceExtents, h, tlsDir, allowLowSpace, store);
        }

        public Spec(NbdUri image, Path disk, Path state, Path kernel, Path initrd, String append, int memoryMiB,
                DiskBus bus, Path console, Path events, long regionSize, long hydrateRate, String readyMarker) {
            this(image, disk, state, kernel, initrd, append, memoryMiB, bus, console, events, regionSize, hydrateRate,
                    readyMarker, DEFAULT_STOP_GRACE, null);
        }
    }

    /**
     * How it went. {@code vmmExitCode} is QEMU's; times are seconds since start, or -1 when it did not happen.
     * {@code stoppedOnRequest}: the instance ended because {@link #requestStop} asked it to.
     */
    public record Result(int vmmExitCode, double guestReady, double hydrated, double devirtualized, double vmmExited,
            int mediatorRestarts, Map<String, Object> finalStatus, boolean stoppedOnRequest) {}

    /** Longer than the mediator's own wait for the image server (60 s), so that its error is the one reported. */
    private static final Duration MEDIATOR_START = Duration.ofSeconds(90);
    private static final int MAX_RESTARTS = 20;

    private final Spec spec;
    /** A boot profile an earlier deployment of the image recorded ({@code node --boot-profile}), or null. */
    private Path bootProfile;
    private final EventLog events;
    private final PrintStream out;
    private final Consumer<Qemu> vmmStarted;
    private final CompletableFuture<Double> guestReady = new CompletableFuture<>();
    private volatile boolean aborted;
    /** Stop requests so far (signals arrive on their own thread); the second one cuts the grace short. */
    private final java.util.concurrent.atomic.AtomicInteger stopRequests = new java.util.concurrent.atomic.AtomicInteger();

    /** Has the mediator fetch the regions {@code profile} names first (a recorded boot of the same image); before {@link #run}. */
    public Instance withBootProfile(Path profile) {
        this.bootProfile = profile == null ? null : profile.toAbsolutePath();
        return this;
    }

    public Instance(Spec spec, EventLog events, PrintStream out) {
        this(spec, events, out, q -> {});
    }

    /** @param vmmStarted called once QEMU runs (before the guest is ready), e.g. to drive the guest's console */
    public Instance(Spec spec, EventLog events, PrintStream out, Consumer<Qemu> vmmStarted) {
        this.spec = spec;
        this.events = events;
        this.out = out;
        this.vmmStarted = vmmStarted;
    }

    /**
     * Completes (seconds since start) when the guest prints its ready marker; completes exceptionally when the
     * guest exits first or no marker is watched for. The console's {@code await} is cursor-based and the
     * instance already waits for the marker, so this is how anyone else learns the guest is ready.
     */
    public CompletableFuture<Double> guestReady() {
        return guestReady;
    }

    /**
     * Makes {@link #run} (in whatever thread it runs) stop QEMU and the mediator and throw, instead of waiting for
     * the guest to power off or for the copy to finish: a test that failed, or an operator who gave up.
     */
    public void abort() {
        aborted = true;
    }

    /**
     * Asks the instance to end as an operator's destroy does: the guest gets the ACPI power button and
     * {@link Spec#stopGrace} to power off, then QEMU is killed; the mediator stops without finishing the copy.
     * Safe from any thread (a signal handler); {@link #run} returns once all is down. A second request kills at once.
     */
    public void requestStop() {
        stopRequests.incrementAndGet();
    }

    private void checkAborted() throws IOException {
        if (aborted) throw new IOException("instance aborted");
    }

    public Result run() throws IOException, InterruptedException {
        Path state = spec.state().toAbsolutePath();
        Files.createDirectories(state);
        Files.deleteIfExists(state.resolve(NodeState.DEVIRTUALIZED));
        Path runDir = shortDir(state.resolve("run"));
        Path socket = runDir.resolve("node.sock");
        NodeProcess node = new NodeProcess(mediatorConfig(socket));
        Qemu qemu = null;
        Thread hook = null;
        double ready = -1, hydrated = -1, devirtualized = -1, exited = -1;
        MediatorSupervisor mediator = new MediatorSupervisor(node);
        Thread mediatorStop = null;
        try {
            // The mediator's JVM and QEMU start side by side: QEMU paused and without its disk until the mediator
            // listens, then the disk is attached and the guest let run.
            node.launch();
            QemuSpec qs = new QemuSpec(runDir.resolve("vm"), new GuestDisk.Nbd(socket, Mediator.EXPORT, 20),
                    spec.bus(), spec.kernel(), spec.initrd(), spec.append(), spec.memoryMiB(), accel(), List.of());
            if (spec.console() != null) linkConsole(Qemu.consoleLog(qs.workDir()), spec.console());
            FutureTask<Qemu> qemuStart = new FutureTask<>(() -> Qemu.startWithoutDisk(qs));
            Thread.ofVirtual().name("qemu-start").start(qemuStart);
            IOException mediatorFailed = null;
            try {
                node.awaitListening(MEDIATOR_START, out::println);
                events.emit("mediator-started", "pid", node.pid());
            } catch (IOException e) {
                mediatorFailed = e;
            }
            qemu = started(qemuStart, mediatorFailed);
            Qemu vm = qemu;
            hook = Thread.ofPlatform().unstarted(() -> {
                // SIGINT or SIGTERM without a handler (Ctrl-C reaches the mediator too): the supervision loop
                // must not restart the mediator it sees die, or it would outlive us holding the state dir.
                node.refuseStarts();
                vm.stop();
                node.stop(Duration.ofSeconds(10));
            });
            Runtime.getRuntime().addShutdownHook(hook);
            if (mediatorFailed != null) throw mediatorFailed;
            if (stopRequests.get() > 0) {
                // Destroyed before the guest ever ran: nothing to power off.
                events.emit("stop-requested", "graceSeconds", 0);
                stopMediator(node);
                events.emit("stopped", "phase", statusPhase(state));
                return new Result(-1, -1, -1, -1, -1, 0, NodeState.readStatus(state), true);
            }
            attachDisk(qemu, node, mediator);
            qemu.resume();
            events.emit("vmm-started", "accel", qemu.accel().qemuName(), "pid", qemu.pid());
            ReadyWatch readyWatch = ReadyWatch.start(qemu, spec.readyMarker(), events, guestReady);
            vmmStarted.accept(qemu);

            PausedGuestResumer resumer = new PausedGuestResumer(qemu, events);
            boolean hydratedSeen = false;
            boolean devirtualizeFailed = false;
            Stop stop = null;
            while (qemu.isAlive()) {
                checkAborted();
                if (stop == null && stopRequests.get() > 0) stop = Stop.begin(qemu, spec.stopGrace(), events);
                if (stop != null && stop.overdue(System.nanoTime(), stopRequests.get())) {
                    stop.kill(qemu, events);
                    break;
                }
                if (stop == null) resumer.poll(System.nanoTime());
                // While the guest powers off it still needs its disk: keep the mediator up until QEMU is gone.
                if (devirtualized < 0) mediator.keepAlive();
                Map<String, Object> status = NodeState.readStatus(state);
                if (!hydratedSeen && status != null && "hydrated".equals(status.get("phase"))) {
                    hydratedSeen = true;
                    hydrated = events.secondsSinceStart();
                    events.emit("hydrated", "bytesOnDemand", status.get("bytesOnDemand"),
                            "bytesBackground", status.get("bytesBackground"));
                }
                if (hydratedSeen && devirtualized < 0 && !devirtualizeFailed && stop == null && qemu.isAlive()) {
                    // Hydrated means every region is local and the map committed after the data was synced:
                    // the local disk alone is the guest's disk now. QEMU drains in-flight requests around the
                    // reopen, so nothing the guest has in flight is lost.
                    try {
                        new Devirtualizer(qemu.qmp()).devirtualize(spec.disk().toAbsolutePath());
                    } catch (IOException e) {
                        // The Devirtualizer leaves the guest on NBD when a step fails: keep the mediator
                        // serving rather than take the running guest down.
                        devirtualizeFailed = true;
                        events.emit("devirtualize-failed", "error", e.getMessage());
                        continue;
                    }
                    devirtualized = events.secondsSinceStart();
                    NodeState.markDevirtualized(state, devirtualized);
                    events.emit("devirtualized", "disk", spec.disk().toString());
                    // Out of the guest's path now. Its exit may take a while (it commits its map; the first one
                    // also writes the class-data archive): meanwhile this loop keeps watching QEMU and stop requests.
                    mediatorStop = Thread.ofVirtual().name("mediator-stop").start(() -> stopMediator(node));
                }
                NodeProcess.sleep(100);
            }
            int code = qemu.waitFor(Duration.ofSeconds(30));
            exited = events.secondsSinceStart();
            ready = readyWatch.readyAt();
            events.emit("vmm-exited", "code", code);
            if (stop == null && devirtualized < 0 && spec.hydration().background()) {
                // The guest powered itself off before the disk was complete: finish the copy so the disk ends
                // whole. An operator may still destroy the instance meanwhile (then the copy is left as it is).
                // Remote-only copies nothing in the background, so there is nothing to finish.
                hydrated = finishHydration(mediator, state);
                if (hydrated < 0) stop = Stop.afterVmm(events);
            }
            if (devirtualized < 0) stopMediator(node);
            if (stop != null) events.emit("stopped", "phase", statusPhase(state));
            return new Result(code, ready, hydrated, devirtualized, exited, mediator.restarts, NodeState.readStatus(state),
                    stop != null);
        } finally {
            if (mediatorStop != null) mediatorStop.join();
            guestReady.completeExceptionally(new IllegalStateException("the instance ended before the guest was ready"));
            if (qemu != null) qemu.stop();
            node.stop(Duration.ofSeconds(10));
            if (hook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running or will: it does the same
                }
            }
        }
    }

    /**
     * A stop in progress: the power button was pressed at {@code sinceNs}; past the grace (or at a second request)
     * QEMU is killed.
     */
    private record Stop(long sinceNs, long graceNs, int requests) {

        static Stop begin(Qemu qemu, Duration grace, EventLog events) {
            events.emit("stop-requested", "graceSeconds", grace.toMillis() / 1000.0);
            if (!grace.isZero()) {
                try {
                    // The ACPI power button: a guest that listens for it shuts down cleanly.
                    qemu.powerDown();
                    events.emit("powerdown-sent");
                } catch (IOException e) {
                    events.emit("powerdown-failed", "error", e.getMessage());
                    return new Stop(System.nanoTime(), 0, 1);
                }
            }
            return new Stop(System.nanoTime(), grace.toNanos(), 1);
        }

        /** A stop asked for after the guest had already gone (while the copy was being finished). */
        static Stop afterVmm(EventLog events) {
            events.emit("stop-requested", "graceSeconds", 0);
            return new Stop(System.nanoTime(), 0, 1);
        }

        boolean overdue(long nowNs, int requestsNow) {
            return requestsNow > requests || nowNs - sinceNs >= graceNs;
        }

        /** QMP {@code quit} (QEMU flushes what it holds for the disk and exits), then signals if need be. */
        void kill(Qemu qemu, EventLog events) {
            events.emit("vmm-killed", "afterSeconds", Math.round((System.nanoTime() - sinceNs) / 1e6) / 1000.0);
            qemu.stop();
        }
    }

    /**
     * The accelerator, decided before this instance's clock started ({@link Accel#detect} at the agent's, the
     * command's or the benchmark's start). Probed here only if no one did: then the probe's seconds are in the
     * timeline, and an event says so.
     */
    private Accel accel() {
        Accel a = Accel.known();
        if (a != null) return a;
        double t = events.secondsSinceStart();
        a = Accel.detect(spec.kernel());
        events.emit("accel-probed", "accel", a.qemuName(), "seconds", Math.round((events.secondsSinceStart() - t) * 1000) / 1000.0);
        return a;
    }

    /**
     * The QEMU started beside the mediator, once it is up. If it failed, its error is thrown (with the mediator's,
     * if that failed too, as suppressed).
     */
    private static Qemu started(FutureTask<Qemu> qemuStart, IOException mediatorFailed) throws IOException,
            InterruptedException {
        try {
            return qemuStart.get();
        } catch (ExecutionException e) {
            IOException failed = e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            if (mediatorFailed != null) failed.addSuppressed(mediatorFailed);
            throw failed;
        }
    }

    /**
     * Attaches the guest's disk to the paused QEMU. The NBD node connects as it is added: if the mediator died
     * since it listened, it is restarted (as under a running guest) and the disk attached to the new one.
     */
    private void attachDisk(Qemu qemu, NodeProcess node, MediatorSupervisor mediator) throws IOException {
        while (true) {
            checkAborted();
            try {
                qemu.attachDisk();
                return;
            } catch (IOException e) {
                if (node.isAlive() || !qemu.isAlive()) throw e;
            }
            while (!node.isAlive()) {
                checkAborted();
                mediator.keepAlive();
                if (!node.isAlive()) NodeProcess.sleep(100);
            }
        }
    }

    private void stopMediator(NodeProcess node) {
        // SIGTERM: the mediator stops serving and copying, syncs the local disk, commits its map and exits.
        node.stop(Duration.ofSeconds(30));
        events.emit("mediator-exited", "code", node.exitCode());
    }

    private static Object statusPhase(Path state) {
        try {
            Map<String, Object> s = NodeState.readStatus(state);
            return s == null ? null : s.get("phase");
        } catch (IOException e) {
            return null;
        }
    }

    /** Waits for the mediator to copy the rest; returns when it did (seconds since start), or -1 on a stop request. */
    private double finishHydration(MediatorSupervisor mediator, Path state) throws IOException {
        long lastReport = 0;
        while (true) {
            checkAborted();
            if (stopRequests.get() > 0) return -1; // destroyed meanwhile: the copy is no longer wanted
            mediator.keepAlive();
            Map<String, Object> status = NodeState.readStatus(state);
            if (status != null && "hydrated".equals(status.get("phase"))) {
                double t = events.secondsSinceStart();
                events.emit("hydrated", "bytesOnDemand", status.get("bytesOnDemand"),
                        "bytesBackground", status.get("bytesBackground"));
                return t;
            }
            if (status != null && "failed".equals(status.get("phase"))) {
                throw new IOException("hydration failed: " + status.get("lastError"));
            }
            long now = System.nanoTime();
            if (status != null && now - lastReport > 5_000_000_000L) {
                lastReport = now;
                long copied = ((Number) status.get("bytesOnDemand")).longValue() + ((Number) status.get("bytesBackground")).longValue();
                out.printf("instance: finishing the copy: %s copied so far, %.1f%% of regions local%n",
                        Units.formatSize(copied), 100 * ((Number) status.get("fractionPresent")).doubleValue());
            }
            NodeProcess.sleep(100);
        }
    }

    /**
     * Keeps the mediator running under the guest: a dead one is restarted on the same state (QEMU holds the
     * guest's I/O meanwhile, up to its reconnect-delay); a start that fails, say while the image server is
     * away, is retried with backoff instead of taking the running guest down. Gives up only after
     * {@link #MAX_RESTARTS} attempts.
     */
    private final class MediatorSupervisor {
        private final NodeProcess node;
        int restarts;
        private int attempts;
        private int failedInARow;
        private long nextAttemptNs;
        private boolean exitReported;

        MediatorSupervisor(NodeProcess node) {
            this.node = node;
        }

        void keepAlive() throws IOException {
            if (node.isAlive() || node.isClosed()) return;
            // Stopping, and the mediator exited cleanly: the same Ctrl-C (SIGINT to the process group) stopped it.
            // Restarting it now would only start a copy nobody wants; a crash (kill -9) is still restarted.
            if (stopRequests.get() > 0 && node.exitCode() == 0) {
                if (!exitReported) {
                    exitReported = true;
                    events.emit("mediator-exited", "code", 0);
                }
                return;
            }
            if (!exitReported) {
                exitReported = true;
                events.emit("mediator-exited", "code", node.exitCode());
            }
            if (System.nanoTime() - nextAttemptNs < 0) return;
            if (attempts >= MAX_RESTARTS) {
                throw new IOException("the mediator could not be kept running after " + attempts + " restarts; giving up:\n"
                        + NodeProcess.tail(spec.state().resolve("node.log")));
            }
            attempts++;
            try {
                node.start(MEDIATOR_START, out::println);
            } catch (IOException e) {
                failedInARow++;
                long backoffMs = Math.min(10_000, 250L << Math.min(failedInARow, 6));
                nextAttemptNs = System.nanoTime() + backoffMs * 1_000_000L;
                String first = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
                events.emit("mediator-start-failed", "error", first, "retryInMs", backoffMs);
                return;
            }
            failedInARow = 0;
            exitReported = false;
            restarts++;
            events.emit("mediator-restarted", "pid", node.pid());
        }
    }

    private MediatorConfig mediatorConfig(Path socket) {
        Path extents = spec.sourceExtents() == null ? null : spec.sourceExtents().toAbsolutePath();
        return new MediatorConfig(spec.image(), spec.disk().toAbsolutePath(), spec.state().toAbsolutePath(), socket,
                spec.regionSize(), Math.max(0, spec.hydrateRate()), MediatorConfig.DEFAULT_GIVE_UP, bootProfile, extents,
                spec.hydration(), spec.tlsDir() == null ? null : spec.tlsDir().toAbsolutePath(), spec.allowLowSpace(), spec.store());
    }

    /** Unix socket paths are limited to 107 bytes: use {@code preferred} when short enough, else a temp dir. */
    private static Path shortDir(Path preferred) throws IOException {
        if (preferred.toString().length() <= 70) {
            Files.createDirectories(preferred);
            return preferred;
        }
        return Files.createTempDirectory("bmcast-");
    }

    private static void linkConsole(Path log, Path console) throws IOException {
        Files.createDirectories(log.getParent());
        Path target = console.toAbsolutePath();
        Files.deleteIfExists(log);
        if (target.getParent() != null) Files.createDirectories(target.getParent());
        if (!Files.exists(target)) Files.createFile(target);
        // QEMU appends the console to its log file; make that file the one the operator asked for.
        Files.createSymbolicLink(log, target);
    }

    static String describe(Result r) {
        return String.format(java.util.Locale.ROOT, "ready %.2f s, hydrated %.2f s, devirtualized %.2f s", r.guestReady(),
                r.hydrated(), r.devirtualized()) + (r.finalStatus() == null ? "" : ", fetched "
                + Units.formatSize(((Number) r.finalStatus().get("bytesOnDemand")).longValue()) + " on demand");
    }
}
