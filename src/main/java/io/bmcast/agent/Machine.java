package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.InstanceState;
import io.bmcast.node.NodeState;
import io.bmcast.storage.BootProfileFormat;
import io.bmcast.util.Units;
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
import java.util.Locale;

/**
 * The machine an agent runs on: its disk and the one instance on it. Starts the instance as {@code instance
 * run} does (a child process in its own session), follows it through the files it writes, powers it off, scrubs
 * the disk and proves it, and keeps {@code WORK/agent-state.json} so that a restarted agent finds all of that
 * again. Knows nothing of the controller: the {@link Agent} decides, the machine does.
 *
 * <p>The long steps (fetching boot files and spawning; powering off and scrubbing) run on an operation thread,
 * one at a time, while the agent keeps reporting. Everything mutable is guarded by {@code this}.
 *
 * <pre>
 *  start:   (image fits? boot files, disk clean?) ── spawn ── starting ── streaming ── devirtualized [── stopped]
 *  destroy: phase frozen ── SIGTERM (ACPI, grace) ── SIGKILL the session if it overstays ── scrubbing
 *           ── wipe + verify + delete the instance's files ── deleted (diskClean) | failed (not verified)
 * </pre>
 */
public final class Machine implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    /** Beyond the instance's own grace: how long its JVM may take to stop QEMU and the mediator. */
    static final Duration STOP_MARGIN = Duration.ofSeconds(20);
    /** A scrub with no instance (at start) that was refused or not verified is tried again this often. */
    static final Duration SCRUB_RETRY = Duration.ofSeconds(30);

    /**
     * @param blockDevice the machine's disk when it is a real device, else null and {@code diskBytes} says how large
     *                    a sparse {@code WORK/disk.img} to use
     * @param stopGrace how long {@code instance run} gives the guest to power off after ACPI before killing it
     * @param instanceArgs extra options for {@code instance run} (e.g. {@code --hydrate-rate})
     * @param scrub how a block device is wiped (a disk file is always punched)
     */
    public record Config(Path work, Path blockDevice, long diskBytes, long memoryBytes, Duration stopGrace, List<String> instanceArgs,
                         ScrubMode scrub) {
        public Config {
            if (blockDevice == null && diskBytes <= 0) throw new IllegalArgumentException("the disk size must be positive");
            if (memoryBytes < 64L << 20) throw new IllegalArgumentException("the memory must be at least 64M");
            instanceArgs = List.copyOf(instanceArgs);
            if (scrub == null) scrub = ScrubMode.ZERO;
        }

        public Config(Path work, Path blockDevice, long diskBytes, long memoryBytes, Duration stopGrace, List<String> instanceArgs) {
            this(work, blockDevice, diskBytes, memoryBytes, stopGrace, instanceArgs, ScrubMode.ZERO);
        }
    }

    private final Config config;
    private final String who;
    private final Path work;
    private final InstanceFiles files;
    private final BootSource bootFiles;
    private MachineDisk disk;
    private FileChannel lockFile;
    private FileLock lock;

    private AgentState state;
    private InstanceWatch watch;
    private Thread operation;
    private volatile boolean closing;
    private Scrubber.Outcome lastScrub;
    /** The chunk cache, its server and the peer token; {@link Peering#none} until the agent sets one. */
    private volatile Peering peering = Peering.none(null);
    /** The instance whose boot profile was sent (or found not worth sending): it is sent once per deployment. */
    private String profileSentFor;

    public Machine(Config config, String who, BootSource bootFiles) {
        this.config = config;
        this.who = who;
        this.work = config.work().toAbsolutePath();
        this.files = InstanceFiles.under(work);
        this.bootFiles = bootFiles;
    }

    /** Takes WORK (one machine per WORK), opens the disk, and recovers what the last agent left. */
    public synchronized Machine open() throws IOException {
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
            LOG.log(Level.WARNING, who + ": WORK path " + work + " is long: the instance's sockets would go to a temp dir; use a shorter one");
        }
        boolean created = config.blockDevice() == null && !Files.exists(work.resolve("disk.img"));
        disk = config.blockDevice() != null ? MachineDisk.blockDevice(config.blockDevice(), config.scrub())
                : MachineDisk.sparseFile(work.resolve("disk.img"), config.diskBytes());
        AgentState loaded = AgentState.load(work);
        // A disk this agent just created holds nothing; any other must be proved clean before a tenant gets it.
        state = loaded != null ? loaded : AgentState.empty(created);
        recover();
        save();
        return this;
    }

    public Config config() {
        return config;
    }

    /** Uses {@code p}'s chunk cache and peers for the instances started from now on. */
    public Machine peering(Peering p) {
        this.peering = p;
        synchronized (this) {
            // an instance the previous agent started and that still runs: its deployment serves the peer server again
            if (state != null && state.instance() != null && state.instance().phase() == null && watch != null) p.adopt(files.dir());
        }
        return this;
    }

    public Peering peering() {
        return peering;
    }

    public MachineDisk disk() {
        return disk;
    }

    public Path work() {
        return work;
    }

    /** The last scrub's outcome (timings included), or null. */
    public synchronized Scrubber.Outcome lastScrub() {
        return lastScrub;
    }

    /** Finds the instance the previous agent held again, or says what became of it; never forgets it silently. */
    private void recover() {
        AgentState.Held h = state.instance();
        if (h == null) {
            if (!state.diskClean()) beginScrubOnly();
            return;
        }
        if (h.destroying() && !isPhase(h, InstanceState.DELETED) && !isPhase(h, InstanceState.FAILED)) {
            LOG.log(Level.INFO, who + ": finishing the destroy of " + h.id());
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
        LOG.log(Level.INFO, who + ": instance " + h.id() + (p != null
                ? " still runs (pid " + p.pid() + "): supervising it again" : " ended while no agent watched"));
    }

    // ---- what is observed ------------------------------------------------------------------------------

    /** The instance held, as the reconcile rules see it (without the protocol's acknowledgement), or null. */
    public synchronized Reconcile.Held held(boolean deletedReported) {
        AgentState.Held h = state.instance();
        if (h == null) return null;
        return new Reconcile.Held(h.id(), phase(h, watch == null ? null : watch.lastOrPoll()), h.destroying(), deletedReported);
    }

    public synchronized String instanceId() {
        return state.instance() == null ? null : state.instance().id();
    }

    /** No instance, no step in progress, and the disk proved clean: the machine can be given to a tenant. */
    public synchronized boolean diskClean() {
        AgentState.Held h = state.instance();
        boolean idle = h == null || isPhase(h, InstanceState.DELETED);
        return idle && state.diskClean() && operation == null;
    }

    public synchronized boolean busy() {
        return operation != null;
    }

    public synchronized boolean hadBefore(String id) {
        return state.history().contains(id);
    }

    /** A fresh look at the instance (reads its files), with the console from {@code consoleOffset}; null when none. */
    public synchronized AgentProtocol.InstanceReport observe(long consoleOffset) {
        AgentState.Held h = state.instance();
        if (h == null) return null;
        InstanceWatch.Observation o = watch == null ? null : watch.poll();
        InstanceState phase = phase(h, o);
        String reason = h.phase() != null ? h.reason() : o == null ? null : o.reason();
        String console = "";
        if (watch != null && h.phase() == null) {
            try {
                console = ConsoleTail.read(files.console(), consoleOffset);
            } catch (IOException e) {
                console = ""; // sent at the next heartbeat
            }
        }
        // Its guest runs: its mediator listened on the chunk socket before the guest could start (or has ended since).
        if (phase != InstanceState.STARTING && h.phase() == null) peering.instanceStarted(files.dir());
        // Local through the cache: every chunk of the image went through it, so this node can now serve all of it.
        if (phase == InstanceState.DEVIRTUALIZED && h.image() != null && Peering.isStoreImage(h.image())) {
            peering.imageLocal(h.image().name(), files.state().resolve(NodeState.STORE_MANIFEST), h.id());
        }
        return new AgentProtocol.InstanceReport(h.id(), phase.wire(), reason, o == null ? 0 : o.bytesOnDemand(),
                o == null ? 0 : o.bytesBackground(), o == null ? 0 : o.fractionLocal(), consoleOffset, console,
                o == null ? null : o.sources());
    }

    private static InstanceState phase(AgentState.Held h, InstanceWatch.Observation o) {
        if (h.phase() != null) return InstanceState.fromWire(h.phase());
        return o == null ? InstanceState.STARTING : o.phase();
    }

    private static boolean isPhase(AgentState.Held h, InstanceState s) {
        return s.wire().equals(h.phase());
    }

    // ---- steps -------------------------------------------------------------------------------------------

    /**
     * The boot profile to send the controller, once per deployment: when the held instance's guest has printed its
     * ready marker and the image had no profile when this deployment began (VMTorrent: the first deployment to reach
     * ready records the order). Null when there is nothing to send (now or ever). Whole records only, at most
     * {@link AgentProtocol#MAX_BOOT_PROFILE_BYTES}: the start of a boot is what matters most.
     */
    public synchronized BootProfileUpload bootProfileToSend() {
        AgentState.Held h = state.instance();
        if (h == null || h.image() == null || h.phase() != null || watch == null || h.id().equals(profileSentFor)) return null;
        InstanceWatch.Observation o = watch.lastOrPoll();
        if (!o.guestReady()) return null;
        profileSentFor = h.id();
        if (h.image().bootProfilePath() != null) return null; // one was recorded already: this deployment used it
        try {
            byte[] all = Files.readAllBytes(files.state().resolve("boot-profile"));
            // Either version (a mediator of an earlier release writes BMCPROF1): the controller keeps what it is sent.
            int whole = BootProfileFormat.wholePrefix(all, AgentProtocol.MAX_BOOT_PROFILE_BYTES);
            if (whole <= BootProfileFormat.HEADER) return null;
            return new BootProfileUpload(h.image().name(), java.util.Arrays.copyOf(all, whole));
        } catch (IOException e) {
            return null; // no profile recorded (a mediator that records none): nothing to share
        }
    }

    /** A boot profile on its way to the controller. */
    public record BootProfileUpload(String image, byte[] profile) {}

    /** Starts {@code id}: refuses an image larger than the disk, fetches boot files, scrubs if need be, spawns. */
    public synchronized void start(String id, ImageSpec image) {
        start(id, image, List.of());
    }

    /** As {@link #start(String, ImageSpec)}, with the peers the controller listed for the image, nearest first. */
    public synchronized void start(String id, ImageSpec image, List<String> peers) {
        start(id, image, peers, null);
    }

    /**
     * As {@link #start(String, ImageSpec)}, with the members of the image's deployment the controller listed: the
     * others' peer URLs and those holding the whole image (null: a controller that lists a few peers, asked in order).
     */
    public synchronized void start(String id, ImageSpec image, List<String> peers, List<String> complete) {
        requireIdle();
        if (image == null) {
            // An assignment without its image (removed, or a controller that lost it): a clear failure, never a guess.
            String why = noImage(id);
            LOG.log(Level.WARNING, who + ": " + why);
            state = state.withInstance(new AgentState.Held(id, null, 0, 0, InstanceState.FAILED.wire(), why, false));
            save();
            return;
        }
        state = state.withInstance(new AgentState.Held(id, image, 0, 0, null, null, false));
        watch = null;
        save();
        LOG.log(Level.INFO, who + ": starting instance " + id + " of image " + image.name());
        List<String> peerList = peers == null ? List.of() : List.copyOf(peers);
        List<String> completeList = complete == null ? null : List.copyOf(complete);
        operation = Thread.ofVirtual().name(who + "-start").start(() -> launch(id, image, peerList, completeList));
    }

    private void launch(String id, ImageSpec image, List<String> peers, List<String> complete) {
        try {
            if (image.sizeBytes() > disk.size()) {
                throw new IOException("the image " + image.name() + " (" + Units.formatSize(image.sizeBytes())
                        + ") is larger than this machine's disk (" + Units.formatSize(disk.size()) + ")");
            }
            BootSource.Local boot = bootFiles.fetch(image);
            boolean clean;
            synchronized (this) {
                clean = state.diskClean();
            }
            if (!clean) {
                Scrubber.Outcome o = scrubSafely(0);
                if (!o.clean()) throw new IOException(o.reason());
            }
            files.delete();
            Files.createDirectories(files.dir());
            List<String> args = new ArrayList<>(instanceArgs(image, boot));
            args.addAll(peering.instanceArgs(image, peers, complete, files.dir()));
            synchronized (this) {
                if (closing) return;
                // Recorded dirty before the first byte can land on it.
                state = state.withDiskClean(false);
                save();
                InstanceProcess p = InstanceProcess.spawn(args, files);
                state = state.withInstance(new AgentState.Held(id, image, p.pid(), p.startedAtMillis(), null, null, false));
                watch = new InstanceWatch(files, p);
                save();
                LOG.log(Level.INFO, who + ": instance " + id + " runs as pid " + p.pid());
            }
        } catch (IOException | RuntimeException e) {
            fail(id, e.getMessage());
        } catch (InterruptedException e) {
            fail(id, "the agent stopped while starting the instance");
        } finally {
            endStep();
        }
    }

    List<String> instanceArgs(ImageSpec image, BootSource.Local boot) {
        List<String> a = new ArrayList<>(List.of("--image", image.uri(), "--disk", disk.path().toString(),
                "--state", files.state().toString(), "--events", files.events().toString(),
                "--console", files.console().toString(), "--memory", (config.memoryBytes() >> 20) + "M",
                "--stop-grace", config.stopGrace().toMillis() + "ms"));
        // The manifest the controller verified at add: the mediator refuses any other before a byte reaches the disk.
        if (image.manifestSha256() != null) a.addAll(List.of("--manifest-sha256", image.manifestSha256()));
        if (boot.extents() != null) a.addAll(List.of("--source-extents", boot.extents().toString()));
        if (boot.bootProfile() != null) a.addAll(List.of("--boot-profile", boot.bootProfile().toString()));
        if (boot.kernel() != null) {
            a.addAll(List.of("--kernel", boot.kernel().toString()));
            if (boot.initrd() != null) a.addAll(List.of("--initrd", boot.initrd().toString()));
            if (image.append() != null) a.addAll(List.of("--append", image.append()));
        }
        a.addAll(config.instanceArgs());
        return a;
    }

    private synchronized void fail(String id, String reason) {
        AgentState.Held h = state.instance();
        if (h == null || !h.id().equals(id)) return;
        LOG.log(Level.WARNING, who + ": instance " + id + " failed: " + reason);
        peering.instanceEnded(files.dir());
        state = state.withInstance(withPhase(h, InstanceState.FAILED, reason));
        save();
        endStep();
    }

    /** Why an instance assigned without an image cannot start. */
    public static String noImage(String id) {
        return "instance " + id + " cannot start: the controller sent no image for it (its image was removed)";
    }

    /**
     * The operator ordered a scrub of this idle machine: the disk counts as dirty from now (saved before the scrub
     * begins), and is clean again only once a new scrub is verified.
     */
    public synchronized void rescrub() {
        requireIdle();
        if (state.instance() != null) throw new IllegalStateException("a scrub is ordered only on an idle machine");
        LOG.log(Level.INFO, who + ": scrubbing again, as the operator ordered");
        state = state.withDiskClean(false);
        save();
        beginScrubOnly();
    }

    /** The controller wants deleted an instance not held here: it is, once the disk is proved clean. */
    public synchronized void adoptDeleted(String id, ImageSpec image) {
        requireIdle();
        state = state.withInstance(new AgentState.Held(id, image, 0, 0, null, null, true));
        if (state.diskClean()) {
            state = state.withInstance(withPhase(state.instance(), InstanceState.DELETED, null));
            save();
        } else {
            beginDestroy();
        }
    }

    /** An instance this machine held once and no longer has: failed, never started again. */
    public synchronized void lost(String id, ImageSpec image) {
        requireIdle();
        LOG.log(Level.WARNING, who + ": the controller expects instance " + id
                + " here, which this agent held before and no longer has: reporting it failed");
        state = state.withInstance(new AgentState.Held(id, image, 0, 0, InstanceState.FAILED.wire(), "the agent lost the instance", false));
        save();
    }

    /** The held instance is deleted and the controller knows it: the machine is free. */
    public synchronized void forget() {
        AgentState.Held h = state.instance();
        if (h == null) return;
        LOG.log(Level.INFO, who + ": instance " + h.id() + " deleted; the machine is available");
        state = state.withInstance(null);
        watch = null;
        save();
    }

    /** Powers the held instance off (if it runs) and scrubs: the phase goes to scrubbing, then deleted or failed. */
    public synchronized void destroy() {
        requireIdle();
        beginDestroy();
    }

    private void beginDestroy() {
        AgentState.Held h = state.instance();
        // The phase is frozen where it was: the guest powering off is the destroy's doing, not news to report.
        InstanceState before = phase(h, watch == null ? null : watch.lastOrPoll());
        boolean over = h.destroying() || before == InstanceState.FAILED || before == InstanceState.DELETED;
        state = state.withInstance(new AgentState.Held(h.id(), h.image(), h.pid(), h.startedAtMillis(),
                over ? InstanceState.SCRUBBING.wire() : before.wire(), null, true));
        save();
        LOG.log(Level.INFO, who + ": destroying instance " + h.id());
        peering.instanceEnded(files.dir());
        InstanceWatch w = watch;
        operation = Thread.ofVirtual().name(who + "-destroy").start(() -> runDestroy(h, w));
    }

    private void runDestroy(AgentState.Held h, InstanceWatch w) {
        try {
            InstanceProcess p = w == null ? null : w.process();
            if (p == null && h.pid() != 0) p = InstanceProcess.find(h.pid(), h.startedAtMillis(), files).orElse(null);
            if (p != null && !p.stop(config.stopGrace().plus(STOP_MARGIN))) {
                LOG.log(Level.WARNING, who + ": instance " + h.id() + " did not stop within its grace: its processes were killed");
            }
            scrub(h.id(), h.pid());
        } catch (IOException e) {
            scrubFailed(h.id(), "cannot stop the instance: " + e.getMessage());
        } catch (InterruptedException e) {
            // the agent is closing: the next one finishes the destroy (the state says destroying)
        } finally {
            endStep();
        }
    }

    private void scrub(String id, long pgid) throws InterruptedException {
        synchronized (this) {
            state = state.withInstance(withPhase(state.instance(), InstanceState.SCRUBBING, null)).withDiskClean(false);
            watch = null;
            save();
        }
        Scrubber.Outcome o = scrubSafely(pgid);
        String leftover = null;
        try {
            files.delete();
        } catch (IOException e) {
            leftover = "cannot delete the instance's files: " + e.getMessage();
        }
        if (leftover == null && Files.exists(files.dir())) leftover = "the instance's files are still under " + files.dir();
        synchronized (this) {
            lastScrub = o;
        }
        if (!o.clean() || leftover != null) {
            scrubFailed(id, o.clean() ? leftover : o.reason());
            return;
        }
        // The proof goes with the verdict, so the controller's event says what was done and how long it took.
        String proof = String.format(Locale.ROOT, "disk scrubbed and verified in %.1f s: %s", o.seconds(), o.method());
        synchronized (this) {
            state = state.withInstance(withPhase(state.instance(), InstanceState.DELETED, proof)).withDiskClean(true);
            save();
            endStep(); // with the verdict: whoever sees deleted also sees the machine idle and clean
        }
        LOG.log(Level.INFO, String.format(Locale.ROOT, "%s: instance %s scrubbed and verified in %.3f s (%s disk, %s)",
                who, id, o.seconds(), Units.formatSize(disk.size()), o.method()));
    }

    /**
     * The one way to a scrub: first nothing of any instance may be left (see {@link InstanceProcess#killRemnants};
     * {@code pgid} is the last instance's recorded pid, 0 when none is known), then {@link Scrubber#scrub} refuses
     * while anything else holds the disk. Without this, a QEMU orphaned by a leader killed with -9 could go on
     * writing the disk after its proof, and the next tenant would share it.
     */
    private Scrubber.Outcome scrubSafely(long pgid) throws InterruptedException {
        Path privateDisk = config.blockDevice() == null ? disk.path() : null;
        try {
            List<String> killed = InstanceProcess.killRemnants(pgid, files, privateDisk, config.stopGrace());
            if (!killed.isEmpty()) LOG.log(Level.WARNING, who + ": killed what was left of an instance before the scrub: " + String.join(", ", killed));
        } catch (IOException e) {
            return new Scrubber.Outcome(false, "scrub refused: " + e.getMessage(), disk.method(), 0, 0);
        }
        return Scrubber.scrub(disk);
    }

    private synchronized void scrubFailed(String id, String reason) {
        LOG.log(Level.ERROR, who + ": instance " + id + ": " + reason + "; the machine is not offered again until a scrub is verified");
        state = state.withInstance(withPhase(state.instance(), InstanceState.FAILED, reason)).withDiskClean(false);
        save();
        endStep();
    }

    /** The step running on this thread is over (a later step's thread is left alone). */
    private synchronized void endStep() {
        if (operation == Thread.currentThread()) operation = null;
    }

    /**
     * With no instance: a disk nobody proved clean (a previous agent's, a device) is scrubbed before anything else,
     * again every {@link #SCRUB_RETRY} until it is (a holder may go away; a wipe may work the next time).
     */
    private void beginScrubOnly() {
        operation = Thread.ofVirtual().name(who + "-scrub").start(() -> {
            try {
                while (!closing) {
                    Scrubber.Outcome o = scrubSafely(0);
                    String leftover = null;
                    if (o.clean()) {
                        try {
                            files.delete();
                        } catch (IOException e) {
                            leftover = "cannot clear " + files.dir() + ": " + e.getMessage();
                        }
                    }
                    synchronized (this) {
                        lastScrub = o;
                        state = state.withDiskClean(o.clean() && leftover == null);
                        save();
                        if (o.clean() && leftover == null) endStep();
                    }
                    if (o.clean() && leftover == null) {
                        LOG.log(Level.INFO, String.format(Locale.ROOT, "%s: disk scrubbed and verified in %.3f s (%s)", who, o.seconds(), o.method()));
                        return;
                    }
                    LOG.log(Level.ERROR, who + ": " + (leftover != null ? leftover : o.reason()) + "; trying again in "
                            + SCRUB_RETRY.toSeconds() + " s");
                    Thread.sleep(SCRUB_RETRY);
                }
            } catch (InterruptedException e) {
                // the agent is closing: the next one scrubs (the state says not clean)
            } finally {
                endStep();
            }
        });
    }

    private void requireIdle() {
        if (operation != null) throw new IllegalStateException("a step is in progress on " + work);
    }

    private static AgentState.Held withPhase(AgentState.Held h, InstanceState phase, String reason) {
        return new AgentState.Held(h.id(), h.image(), h.pid(), h.startedAtMillis(), phase.wire(), reason, h.destroying());
    }

    private synchronized void save() {
        try {
            state.save(work);
        } catch (IOException e) {
            // Not fatal to what runs, but a restarted agent would know less: say so loudly.
            LOG.log(Level.ERROR, who + ": cannot save " + AgentState.FILE + ": " + e.getMessage());
        }
    }

    /**
     * Lets go of WORK, not of the instance: it runs on in its own session, and a machine opened again on the same
     * WORK supervises it. A step in progress is interrupted; the next one finishes a destroy.
     */
    @Override
    public void close() throws IOException {
        closing = true;
        Thread op;
        synchronized (this) {
            op = operation;
        }
        if (op != null) {
            op.interrupt();
            try {
                op.join(Duration.ofSeconds(30));
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
}
