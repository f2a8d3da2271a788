package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Assignment;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.InstanceState;
import io.bmcast.util.Units;
import io.bmcast.vmm.Accel;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One machine's agent: registers it with the controller, reports what it observes at every heartbeat, and
 * takes the next step the controller's directive asks for ({@link Reconcile}): start the assigned instance as
 * {@code instance run} would, or power it off and scrub the disk.
 *
 * <p>Threads: one loop thread observes, heartbeats and decides; a step that takes long (downloading boot files
 * and spawning, or powering off and scrubbing) runs on an operation thread of its own while the loop keeps
 * reporting. {@link #state} and {@link #watch} are guarded by {@code this}.
 */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    static final long TICK_MS = 200;
    /** Progress and console changes are reported at most this often; phase changes at once. */
    static final long PROGRESS_NS = 1_000_000_000L;
    static final long DEFAULT_INTERVAL_NS = 5_000_000_000L;
    static final long SCRUB_RETRY_NS = 30_000_000_000L;
    /** Beyond the instance's own grace: how long its JVM may take to stop QEMU and the mediator. */
    static final Duration STOP_MARGIN = Duration.ofSeconds(20);

    /**
     * @param blockDevice the machine's disk when it is a real device, else null and {@code diskBytes} says how large
     *                    a sparse {@code WORK/disk.img} to use
     * @param stopGrace how long {@code instance run} gives the guest to power off after ACPI before killing it
     */
    public record Config(String name, Path work, Path blockDevice, long diskBytes, long memoryBytes, Duration stopGrace) {
        public Config {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(work, "work");
            if (blockDevice == null && diskBytes <= 0) throw new IllegalArgumentException("the disk size must be positive");
            if (memoryBytes < 64L << 20) throw new IllegalArgumentException("the memory must be at least 64M");
        }
    }

    private final Config config;
    private final ControllerClient client;
    private final Path work;
    private final InstanceFiles files;
    private final Reachability reachability;
    private MachineDisk disk;
    private BootFiles bootFiles;
    private FileChannel lockFile;
    private FileLock lock;
    private Thread loop;
    private volatile boolean closing;

    private AgentState state;
    private InstanceWatch watch;
    private Thread operation;
    private boolean deletedReported;
    private long consoleAck;
    private long nextScrubRetryNs;

    // loop thread only
    private boolean registered;
    private long intervalNs = DEFAULT_INTERVAL_NS;
    private Directive directive;
    private AgentProtocol.Report lastSent;
    private long lastSentNs;
    private int failures;
    private long retryAtNs;
    private String accel;

    public Agent(Config config, ControllerClient client) {
        this.config = config;
        this.client = client;
        this.work = config.work().toAbsolutePath();
        this.files = InstanceFiles.under(work);
        this.reachability = new Reachability("agent " + config.name());
    }

    /** Opens WORK (one agent per WORK), recovers what the last agent left, and starts the loop. */
    public synchronized Agent start() throws IOException {
        Files.createDirectories(work);
        lockFile = FileChannel.open(work.resolve("agent.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            lock = lockFile.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            lockFile.close();
            throw new IOException("another agent is using " + work);
        }
        if (!files.socketsFit()) {
            LOG.log(Level.WARNING, "agent " + config.name() + ": WORK path " + work + " is long: the instance's sockets would go to a temp dir; use a shorter one");
        }
        boolean created = config.blockDevice() == null && !Files.exists(work.resolve("disk.img"));
        disk = config.blockDevice() != null ? MachineDisk.blockDevice(config.blockDevice())
                : MachineDisk.sparseFile(work.resolve("disk.img"), config.diskBytes());
        bootFiles = new BootFiles(work.resolve("cache"), client);
        AgentState loaded = AgentState.load(work);
        // A disk this agent just created holds nothing; any other must be proved clean before a tenant gets it.
        state = loaded != null ? loaded : AgentState.empty(created);
        recover();
        save();
        loop = Thread.ofVirtual().name("agent-" + config.name()).start(this::run);
        return this;
    }

    public String name() {
        return config.name();
    }

    public MachineDisk disk() {
        return disk;
    }

    /** What the next heartbeat would say (for tests and the demo). */
    public synchronized AgentProtocol.Report report() {
        return report(false);
    }

    /**
     * Stops the agent, not the instance: the instance runs on in its own session, and an agent started again on the
     * same WORK supervises it. A destroy in progress is interrupted; the next agent finishes it.
     */
    @Override
    public void close() throws IOException {
        closing = true;
        Thread l;
        Thread op;
        synchronized (this) {
            l = loop;
            op = operation;
        }
        for (Thread t : new Thread[] {l, op}) {
            if (t == null) continue;
            t.interrupt();
            try {
                t.join(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            if (lock != null) lock.release();
            if (lockFile != null) lockFile.close();
            lock = null;
        }
    }

    // ---- recovery ----------------------------------------------------------------------------------------

    /** Finds the instance the previous agent held again, or says what became of it; never forgets it silently. */
    private void recover() {
        AgentState.Held h = state.instance();
        if (h == null) {
            if (!state.diskClean()) beginScrubOnly();
            return;
        }
        if (h.destroying() && h.phase() != null && !h.phase().equals(InstanceState.DELETED.wire())
                && !h.phase().equals(InstanceState.FAILED.wire())) {
            LOG.log(Level.INFO, "agent " + config.name() + ": finishing the destroy of " + h.id());
            beginDestroy();
            return;
        }
        if (h.phase() != null) return; // deleted or failed: reported as is
        if (h.pid() == 0) {
            state = state.withInstance(withPhase(h, InstanceState.FAILED, "the agent stopped before the instance process started"));
            return;
        }
        InstanceProcess p = InstanceProcess.find(h.pid(), h.startedAtMillis(), files).orElse(null);
        watch = new InstanceWatch(files, p);
        LOG.log(Level.INFO, "agent " + config.name() + ": instance " + h.id() + (p != null
                ? " still runs (pid " + p.pid() + "): supervising it again" : " ended while no agent watched"));
    }

    // ---- the loop ----------------------------------------------------------------------------------------

    private void run() {
        try {
            accel = Accel.detect(null).qemuName();
        } catch (RuntimeException e) {
            accel = "tcg";
        }
        while (!closing) {
            try {
                step(System.nanoTime());
                Thread.sleep(TICK_MS);
            } catch (InterruptedException e) {
                if (closing) return;
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "agent " + config.name() + ": " + e, e);
                sleepQuietly(1000);
            }
        }
    }

    private void step(long now) throws InterruptedException {
        if (now - retryAtNs < 0) return;
        if (!registered) {
            register(now);
            if (!registered) return;
        }
        AgentProtocol.Report r;
        synchronized (this) {
            r = report(true);
        }
        if (due(r, now)) heartbeat(r, now);
        Directive d = directive;
        if (d != null) synchronized (this) {
            reconcile(d, now);
        }
    }

    private void register(long now) throws InterruptedException {
        var hello = new AgentProtocol.Hello(config.name(), disk.size(), config.memoryBytes(),
                Runtime.getRuntime().availableProcessors(), accel, false);
        try {
            AgentProtocol.Welcome w = client.register(hello).get(ControllerClient.REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
            if (w.heartbeatIntervalMs() > 0) intervalNs = w.heartbeatIntervalMs() * 1_000_000L;
            registered = true;
            failures = 0;
            reachability.ok();
            LOG.log(Level.INFO, "agent " + config.name() + ": registered with " + client.base() + " (" + Units.formatSize(disk.size())
                    + " disk, " + accel + ", heartbeat every " + intervalNs / 1_000_000 + " ms)");
        } catch (ExecutionException | TimeoutException e) {
            failedCall(e, now);
        }
    }

    private boolean due(AgentProtocol.Report r, long now) {
        if (lastSent == null || now - lastSentNs >= intervalNs) return true;
        var a = r.instance();
        var b = lastSent.instance();
        if (r.diskClean() != lastSent.diskClean() || (a == null) != (b == null)) return true;
        if (a == null) return false;
        if (!a.id().equals(b.id()) || !a.phase().equals(b.phase()) || !Objects.equals(a.reason(), b.reason())) return true;
        boolean moved = !a.console().isEmpty() || a.bytesOnDemand() != b.bytesOnDemand() || a.bytesBackground() != b.bytesBackground();
        return moved && now - lastSentNs >= PROGRESS_NS;
    }

    private void heartbeat(AgentProtocol.Report r, long now) throws InterruptedException {
        Directive d;
        try {
            d = client.heartbeat(r).get(ControllerClient.REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            if (ControllerClient.cause(e) instanceof ControllerClient.RefusedException re && re.status == 404) registered = false;
            failedCall(e, now);
            return;
        }
        failures = 0;
        reachability.ok();
        lastSent = r;
        lastSentNs = now;
        directive = d;
        synchronized (this) {
            AgentState.Held h = state.instance();
            if (h != null && r.instance() != null && h.id().equals(r.instance().id())) {
                if (InstanceState.DELETED.wire().equals(r.instance().phase())) deletedReported = true;
            }
            if (h != null && d.assignment() != null && h.id().equals(d.assignment().instanceId())) consoleAck = d.consoleOffset();
        }
    }

    private void failedCall(Exception e, long now) {
        failures++;
        long cap = Math.min(15_000L, 500L << Math.min(failures, 5));
        long delayMs = cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
        retryAtNs = now + delayMs * 1_000_000L;
        reachability.failed(ControllerClient.cause(e).getMessage(), delayMs, now);
    }

    // ---- observing ---------------------------------------------------------------------------------------

    private AgentProtocol.Report report(boolean poll) {
        AgentState.Held h = state.instance();
        if (h == null) return new AgentProtocol.Report(config.name(), null, state.diskClean() && operation == null);
        InstanceWatch.Observation o = watch == null ? null : poll ? watch.poll() : watch.lastOrPoll();
        InstanceState phase = phase(h, o);
        String reason = h.phase() != null ? h.reason() : o == null ? null : o.reason();
        String console = "";
        if (watch != null && h.phase() == null) {
            try {
                console = ConsoleTail.read(files.console(), consoleAck);
            } catch (IOException e) {
                console = "";
            }
        }
        var inst = new AgentProtocol.InstanceReport(h.id(), phase.wire(), reason, o == null ? 0 : o.bytesOnDemand(),
                o == null ? 0 : o.bytesBackground(), o == null ? 0 : o.fractionLocal(), consoleAck, console);
        return new AgentProtocol.Report(config.name(), inst, phase == InstanceState.DELETED && state.diskClean());
    }

    private static InstanceState phase(AgentState.Held h, InstanceWatch.Observation o) {
        if (h.phase() != null) return InstanceState.fromWire(h.phase());
        return o == null ? InstanceState.STARTING : o.phase();
    }

    // ---- deciding ----------------------------------------------------------------------------------------

    private void reconcile(Directive d, long now) {
        if (operation != null) return; // one step at a time; the directive is looked at again after it
        Assignment a = d.assignment();
        Reconcile.Step step;
        while (true) {
            AgentState.Held h = state.instance();
            Reconcile.Held held = h == null ? null : new Reconcile.Held(h.id(), phase(h, watch == null ? null : watch.lastOrPoll()),
                    h.destroying(), deletedReported);
            step = Reconcile.next(held, a, a != null && state.history().contains(a.instanceId()));
            if (step != Reconcile.Step.FORGET) break;
            LOG.log(Level.INFO, "agent " + config.name() + ": instance " + h.id() + " deleted; the machine is available");
            state = state.withInstance(null);
            watch = null;
            deletedReported = false;
            save();
        }
        switch (step) {
            case KEEP, FORGET -> {}
            case START -> beginStart(a, d.consoleOffset());
            case DESTROY -> {
                if (now - nextScrubRetryNs >= 0) beginDestroy();
            }
            case ADOPT_DELETED -> {
                state = state.withInstance(new AgentState.Held(a.instanceId(), a.image(), 0, 0, null, null, true));
                deletedReported = false;
                if (state.diskClean()) {
                    state = state.withInstance(withPhase(state.instance(), InstanceState.DELETED, null));
                    save();
                } else {
                    beginDestroy();
                }
            }
            case LOST -> {
                LOG.log(Level.WARNING, "agent " + config.name() + ": the controller expects instance " + a.instanceId()
                        + " here, which this agent held before and no longer has: reporting it failed");
                state = state.withInstance(new AgentState.Held(a.instanceId(), a.image(), 0, 0, InstanceState.FAILED.wire(),
                        "the agent lost the instance", false));
                deletedReported = false;
                save();
            }
        }
    }

    private void beginStart(Assignment a, long consoleOffset) {
        ImageSpec image = a.image();
        state = state.withInstance(new AgentState.Held(a.instanceId(), image, 0, 0, null, null, false));
        deletedReported = false;
        consoleAck = consoleOffset;
        watch = null;
        save();
        LOG.log(Level.INFO, "agent " + config.name() + ": starting instance " + a.instanceId() + " of image " + image.name());
        operation = Thread.ofVirtual().name("agent-" + config.name() + "-start").start(() -> launch(a.instanceId(), image));
    }

    /** The start operation: refuse what cannot fit, fetch the boot files, make sure the disk is clean, spawn. */
    private void launch(String id, ImageSpec image) {
        try {
            if (image.sizeBytes() > disk.size()) {
                throw new IOException("the image " + image.name() + " (" + Units.formatSize(image.sizeBytes())
                        + ") is larger than this machine's disk (" + Units.formatSize(disk.size()) + ")");
            }
            BootFiles.Local boot = bootFiles.fetch(image);
            if (!state().diskClean()) {
                Scrubber.Outcome o = Scrubber.scrub(disk);
                if (!o.clean()) throw new IOException(o.reason());
            }
            files.delete();
            Files.createDirectories(files.dir());
            List<String> args = instanceArgs(image, boot);
            synchronized (this) {
                if (closing) return;
                state = state.withDiskClean(false);
                save();
                InstanceProcess p = InstanceProcess.spawn(args, files);
                state = state.withInstance(new AgentState.Held(id, image, p.pid(), p.startedAtMillis(), null, null, false));
                watch = new InstanceWatch(files, p);
                save();
                LOG.log(Level.INFO, "agent " + config.name() + ": instance " + id + " runs as pid " + p.pid());
            }
        } catch (IOException | RuntimeException e) {
            fail(id, e.getMessage());
        } catch (InterruptedException e) {
            fail(id, "the agent stopped while starting the instance");
        } finally {
            synchronized (this) {
                operation = null;
            }
        }
    }

    private List<String> instanceArgs(ImageSpec image, BootFiles.Local boot) {
        List<String> a = new ArrayList<>(List.of("--image", image.uri(), "--disk", disk.path().toString(),
                "--state", files.state().toString(), "--events", files.events().toString(),
                "--console", files.console().toString(), "--memory", (config.memoryBytes() >> 20) + "M"));
        if (boot.kernel() != null) {
            a.addAll(List.of("--kernel", boot.kernel().toString()));
            if (boot.initrd() != null) a.addAll(List.of("--initrd", boot.initrd().toString()));
            if (image.append() != null) a.addAll(List.of("--append", image.append()));
        }
        return a;
    }

    private synchronized void fail(String id, String reason) {
        AgentState.Held h = state.instance();
        if (h == null || !h.id().equals(id)) return;
        LOG.log(Level.WARNING, "agent " + config.name() + ": instance " + id + " failed: " + reason);
        state = state.withInstance(withPhase(h, InstanceState.FAILED, reason));
        save();
    }

    private void beginDestroy() {
        AgentState.Held h = state.instance();
        // The phase is frozen where it was: what follows (the guest powering off) is the destroy's doing, not news.
        InstanceState before = phase(h, watch == null ? null : watch.lastOrPoll());
        String frozen = before == InstanceState.FAILED || before == InstanceState.DELETED ? InstanceState.SCRUBBING.wire() : before.wire();
        state = state.withInstance(new AgentState.Held(h.id(), h.image(), h.pid(), h.startedAtMillis(),
                h.destroying() ? InstanceState.SCRUBBING.wire() : frozen, null, true));
        deletedReported = false;
        save();
        LOG.log(Level.INFO, "agent " + config.name() + ": destroying instance " + h.id());
        InstanceWatch w = watch;
        operation = Thread.ofVirtual().name("agent-" + config.name() + "-destroy").start(() -> destroy(h.id(), w));
    }

    /** The destroy operation: power off (or kill what is left), scrub, prove it. */
    private void destroy(String id, InstanceWatch w) {
        try {
            InstanceProcess p = w == null ? null : w.process();
            if (p == null) {
                AgentState.Held h = state().instance();
                if (h != null && h.pid() != 0) p = InstanceProcess.find(h.pid(), h.startedAtMillis(), files).orElse(null);
            }
            if (p != null) {
                boolean clean = p.stop(config.stopGrace().plus(STOP_MARGIN));
                if (!clean) LOG.log(Level.WARNING, "agent " + config.name() + ": instance " + id + " did not stop in time: killed");
            }
            scrub(id);
        } catch (IOException e) {
            scrubFailed(id, "cannot stop the instance: " + e.getMessage());
        } catch (InterruptedException e) {
            // the agent is closing: the next one finishes the destroy (the state says destroying)
        } finally {
            synchronized (this) {
                operation = null;
            }
        }
    }

    private void scrub(String id) {
        synchronized (this) {
            AgentState.Held h = state.instance();
            state = state.withInstance(withPhase(h, InstanceState.SCRUBBING, null)).withDiskClean(false);
            save();
        }
        Scrubber.Outcome o = Scrubber.scrub(disk);
        String leftover = null;
        try {
            files.delete();
        } catch (IOException e) {
            leftover = "cannot delete the instance's files: " + e.getMessage();
        }
        if (Files.exists(files.dir())) leftover = "the instance's files are still under " + files.dir();
        if (!o.clean() || leftover != null) {
            scrubFailed(id, o.clean() ? leftover : o.reason());
            return;
        }
        synchronized (this) {
            state = state.withInstance(withPhase(state.instance(), InstanceState.DELETED, null)).withDiskClean(true);
            watch = null;
            save();
        }
        LOG.log(Level.INFO, String.format(java.util.Locale.ROOT, "agent %s: instance %s scrubbed and verified in %.3f s (%s disk)",
                config.name(), id, o.seconds(), Units.formatSize(disk.size())));
    }

    private synchronized void scrubFailed(String id, String reason) {
        LOG.log(Level.ERROR, "agent " + config.name() + ": instance " + id + ": " + reason + "; the machine is not offered again until a scrub is verified");
        nextScrubRetryNs = System.nanoTime() + SCRUB_RETRY_NS;
        state = state.withInstance(withPhase(state.instance(), InstanceState.FAILED, reason)).withDiskClean(false);
        save();
    }

    /** At start, with no instance: a disk nobody proved clean is scrubbed before anything else. */
    private void beginScrubOnly() {
        operation = Thread.ofVirtual().name("agent-" + config.name() + "-scrub").start(() -> {
            try {
                files.delete();
                Scrubber.Outcome o = Scrubber.scrub(disk);
                synchronized (this) {
                    state = state.withDiskClean(o.clean());
                    save();
                }
                if (o.clean()) {
                    LOG.log(Level.INFO, "agent " + config.name() + ": disk scrubbed and verified");
                } else {
                    LOG.log(Level.ERROR, "agent " + config.name() + ": " + o.reason());
                }
            } catch (IOException e) {
                LOG.log(Level.ERROR, "agent " + config.name() + ": cannot clear " + files.dir() + ": " + e.getMessage());
            } finally {
                synchronized (this) {
                    operation = null;
                }
            }
        });
    }

    private static AgentState.Held withPhase(AgentState.Held h, InstanceState phase, String reason) {
        return new AgentState.Held(h.id(), h.image(), h.pid(), h.startedAtMillis(), phase.wire(), reason, h.destroying());
    }

    private synchronized AgentState state() {
        return state;
    }

    private synchronized void save() {
        try {
            state.save(work);
        } catch (IOException e) {
            // Not fatal to what runs, but a restarted agent would know less: say so loudly.
            LOG.log(Level.ERROR, "agent " + config.name() + ": cannot save " + AgentState.FILE + ": " + e.getMessage());
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
