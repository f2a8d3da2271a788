package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Assignment;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.InstanceState;
import io.bmcast.util.Units;
import io.bmcast.vmm.Accel;
import java.io.IOException;
import java.nio.file.Path;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One machine's agent: registers the {@link Machine} with the controller, reports what it observes at every
 * heartbeat (at once when the phase changes), and takes the next step the controller's directive asks for, as
 * {@link Reconcile} decides. An unreachable controller is retried with backoff and a clear log line; the agent
 * never dies of it, and the instance runs on meanwhile. The one refusal it does not retry is of its name (another
 * agent holds it): then it stops, and {@link #refused()} says why.
 *
 * <p>It keeps the node's credential in {@code WORK/node.credential} ({@link NodeCredential}) and numbers its reports
 * ({@link ReportSequence}), both across its own restarts.
 *
 * <p>One loop thread does all of it; the machine's long steps run on their own thread. Level-triggered: the last
 * directive is looked at again at every tick, so a lost or repeated message only means the same answer again.
 */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = System.getLogger("io.bmcast.agent");
    static final long TICK_MS = 200;
    /** Progress and console changes are reported at most this often; phase changes at once. */
    static final long PROGRESS_NS = 1_000_000_000L;
    static final long DEFAULT_INTERVAL_NS = 5_000_000_000L;
    /** A scrub that could not be verified is tried again this often. */
    static final long DESTROY_RETRY_NS = 30_000_000_000L;

    private final String name;
    private final Machine machine;
    private final ControllerClient client;
    private final Reachability reachability;
    private Thread loop;
    private volatile boolean closing;
    private volatile AgentProtocol.Report lastReport;
    private final java.util.concurrent.CompletableFuture<String> refused = new java.util.concurrent.CompletableFuture<>();

    // loop thread only
    private ReportSequence sequence;
    private String accel;
    private boolean registered;
    private long intervalNs = DEFAULT_INTERVAL_NS;
    private Directive directive;
    private AgentProtocol.Report lastSent;
    private long lastSentNs;
    private boolean deletedReported;
    /** The instance whose {@code scrubbing} the controller has acknowledged (see {@link #scrubbingFirst}). */
    private String scrubbingHeard;
    private long consoleAck;
    private int failures;
    private long retryAtNs;
    /** A destroy whose scrub was not verified is tried again, for that instance only, at this time. */
    private long destroyAllowedAtNs;
    private String destroyRetryOf;
    /** The last long-poll was held and answered: poll again without waiting for the interval or a tick. */
    private boolean pollAgain;
    /** The operator ordered a scrub and the controller has not yet heard a "not clean" report since (agent thread only). */
    private boolean scrubOwed;

    public Agent(String name, Machine.Config config, ControllerClient client) {
        this.name = Objects.requireNonNull(name, "name");
        this.client = client;
        this.machine = new Machine(config, "agent " + name, new BootFiles(config.work().toAbsolutePath().resolve("cache"), client));
        this.reachability = new Reachability("agent " + name);
    }

    /** Opens the machine (recovering what a previous agent left) and starts the loop. */
    public Agent start() throws IOException {
        machine.open();
        Path work = machine.config().work();
        client.credential(NodeCredential.load(work));
        sequence = ReportSequence.open(work, ReportSequence.clockMicros());
        loop = Thread.ofVirtual().name("agent-" + name).start(this::run);
        return this;
    }

    public String name() {
        return name;
    }

    public Machine machine() {
        return machine;
    }

    /** Uses {@code p} (the node's chunk cache, its peer server, its zone); call before {@link #start}. */
    public Agent peering(Peering p) {
        machine.peering(p);
        return this;
    }

    /** The last report sent or about to be (for tests and the demo), or null before the first. */
    public AgentProtocol.Report lastReport() {
        return lastReport;
    }

    /**
     * Completes, with the controller's sentence, when the controller refused this agent its name for good (another
     * agent holds it, or this machine lost its credential): the agent has stopped trying; the instance, if any, runs on.
     */
    public java.util.concurrent.CompletableFuture<String> refused() {
        return refused;
    }

    /** Stops the agent, not the instance: see {@link Machine#close}. */
    @Override
    public void close() throws IOException {
        closing = true;
        if (loop != null) {
            loop.interrupt();
            try {
                loop.join(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        machine.close();
    }

    private void run() {
        // Once per agent, not per launch: the probe may boot a kernel for seconds (and is remembered per host boot).
        try {
            accel = Accel.detect(null).qemuName();
        } catch (RuntimeException e) {
            accel = "tcg";
        }
        while (!closing && !refused.isDone()) {
            try {
                step(System.nanoTime());
                if (!pollAgain) Thread.sleep(TICK_MS);
            } catch (InterruptedException e) {
                if (closing) return;
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "agent " + name + ": " + e, e);
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    if (closing) return;
                }
            }
        }
    }

    private void step(long now) throws InterruptedException {
        // numbered when sent (see heartbeat): this one is compared with the last sent, and maybe not sent at all
        AgentProtocol.Report r = scrubbingFirst(new AgentProtocol.Report(name, 0, machine.observe(consoleAck), machine.diskClean(),
                machine.peering().cachedImages()));
        // An ordered scrub is acknowledged by a "not clean" report, even when the scrub took less than one tick.
        if (scrubOwed && r.diskClean()) r = new AgentProtocol.Report(r.name(), r.seq(), r.instance(), false, r.cachedImages());
        lastReport = r;
        if (now - retryAtNs < 0) return;
        if (!registered && !register(now)) return;
        if (due(r, now)) heartbeat(r, now);
        if (directive != null) reconcile(directive, now);
        sendBootProfile();
    }

    /**
     * A destroy's verdict (deleted, or failed: the scrub was not verified) is reported only after the controller has
     * heard {@code scrubbing} for that instance, even when the scrub took less than one tick. So {@code failed}
     * after {@code scrubbing} always means a failed scrub, while a {@code failed} the controller receives before it
     * means the instance failed earlier (a heartbeat that crossed the destroy request).
     */
    private AgentProtocol.Report scrubbingFirst(AgentProtocol.Report r) {
        var inst = r.instance();
        if (inst == null || inst.id().equals(scrubbingHeard)) return r;
        boolean verdict = InstanceState.DELETED.wire().equals(inst.phase()) || InstanceState.FAILED.wire().equals(inst.phase());
        Reconcile.Held h = machine.held(deletedReported);
        if (!verdict || h == null || !h.goingAway() || !h.id().equals(inst.id())) return r;
        return new AgentProtocol.Report(r.name(), r.seq(), new AgentProtocol.InstanceReport(inst.id(), InstanceState.SCRUBBING.wire(), null,
                inst.bytesOnDemand(), inst.bytesBackground(), inst.fractionLocal(), inst.consoleOffset(), "", inst.sources()), false,
                r.cachedImages());
    }

    private boolean register(long now) throws InterruptedException {
        Peering peering = machine.peering();
        var hello = new AgentProtocol.Hello(name, machine.disk().size(), machine.config().memoryBytes(), Runtime.getRuntime().availableProcessors(),
                accel, false, peering.peerUrl(), peering.zone());
        try {
            AgentProtocol.Welcome w = client.register(hello, null).get(ControllerClient.REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
            if (w.credential() != null) {
                // kept before it is used: a credential the agent would forget at its next start loses it the name
                try {
                    NodeCredential.save(machine.config().work(), w.credential());
                } catch (IOException e) {
                    giveUp("cannot keep node " + name + "'s credential in " + machine.config().work().resolve(NodeCredential.FILE) + ": "
                            + e.getMessage() + "; free the name with `bmcast node rm " + name + "` once this is fixed");
                    return false;
                }
                client.credential(w.credential());
            }
            if (w.heartbeatIntervalMs() > 0) intervalNs = w.heartbeatIntervalMs() * 1_000_000L;
            peering.token(w.peerToken());
            registered = true;
            lastSent = null;
            failures = 0;
            reachability.ok();
            LOG.log(Level.INFO, "agent " + name + ": registered with " + client.base() + " (" + Units.formatSize(machine.disk().size())
                    + " disk, " + accel + ", heartbeat every " + intervalNs / 1_000_000 + " ms)");
            return true;
        } catch (ExecutionException | TimeoutException e) {
            // The name is another agent's (or this machine lost its credential): retrying cannot help.
            if (ControllerClient.cause(e) instanceof ControllerClient.RefusedException re && re.status == 409) {
                giveUp(re.error != null ? re.error : re.getMessage());
                return false;
            }
            failedCall(e, now);
            return false;
        }
    }

    private void giveUp(String why) {
        // Debug only: whoever runs the agent says it once, from refused() (`bmcast agent` prints it and exits 1).
        LOG.log(Level.DEBUG, "agent " + name + ": " + why);
        refused.complete(why);
    }

    private boolean due(AgentProtocol.Report r, long now) {
        if (lastSent == null || now - lastSentNs >= intervalNs) return true;
        if (pollAgain && ControllerClient.isIdle(r)) return true;
        var a = r.instance();
        var b = lastSent.instance();
        if (r.diskClean() != lastSent.diskClean() || (a == null) != (b == null)) return true;
        if (a == null) return false;
        if (!a.id().equals(b.id()) || !a.phase().equals(b.phase()) || !Objects.equals(a.reason(), b.reason())) return true;
        boolean moved = !a.console().isEmpty() || a.bytesOnDemand() != b.bytesOnDemand() || a.bytesBackground() != b.bytesBackground();
        return moved && now - lastSentNs >= PROGRESS_NS;
    }

    private void heartbeat(AgentProtocol.Report observed, long now) throws InterruptedException {
        AgentProtocol.Report r;
        try {
            r = new AgentProtocol.Report(observed.name(), sequence.next(), observed.instance(), observed.diskClean(), observed.cachedImages());
        } catch (IOException e) {
            failedCall(new ExecutionException("cannot number the report: " + e.getMessage(), e), now);
            return;
        }
        Directive d;
        // Idle: long-poll, so that a launch placed on this node is heard when it is placed, not an interval later.
        long waitNs = ControllerClient.isIdle(r) ? intervalNs : 0;
        pollAgain = false;
        try {
            d = client.heartbeat(r, null, waitNs / 1_000_000).get(ControllerClient.REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // A controller that does not know this node (its database was replaced) wants it to register again; one
            // that refuses its credential (the name was freed and taken) answers the registration with why.
            if (ControllerClient.cause(e) instanceof ControllerClient.RefusedException re
                    && (re.status == 404 || re.status == 401 || re.status == 403)) {
                registered = false;
            }
            failedCall(e, now);
            return;
        }
        failures = 0;
        reachability.ok();
        long answeredNs = System.nanoTime();
        pollAgain = waitNs > 0 && ControllerClient.pollAgain(d, waitNs, answeredNs - now);
        lastSent = r;
        lastSentNs = answeredNs;
        if (!r.diskClean()) scrubOwed = false; // the controller has heard the scrub is under way
        directive = d;
        var inst = r.instance();
        if (inst != null && inst.id().equals(machine.instanceId())) {
            if (InstanceState.DELETED.wire().equals(inst.phase())) deletedReported = true;
            if (InstanceState.SCRUBBING.wire().equals(inst.phase())) scrubbingHeard = inst.id();
        }
        if (d.assignment() != null && d.assignment().instanceId().equals(machine.instanceId())) consoleAck = d.consoleOffset();
    }

    /**
     * The first deployment of an image to reach ready shares the order its guest read the image in (VMTorrent), on
     * its own thread so the loop keeps reporting. Sent once; a controller that had one already keeps its own.
     */
    private void sendBootProfile() {
        Machine.BootProfileUpload up = machine.bootProfileToSend();
        if (up == null) return;
        Thread.ofVirtual().name("agent-" + name + "-profile").start(() -> {
            try {
                boolean kept = client.bootProfile(name, up.image(), up.profile()).get(ControllerClient.REQUEST_TIMEOUT.toSeconds() + 5, TimeUnit.SECONDS);
                LOG.log(Level.INFO, "agent " + name + ": boot profile of image " + up.image() + " (" + (up.profile().length - 8) / 12 + " reads) "
                        + (kept ? "recorded by the controller" : "not needed: the image has one"));
            } catch (ExecutionException | TimeoutException e) {
                LOG.log(Level.WARNING, "agent " + name + ": could not send the boot profile of image " + up.image() + ": "
                        + ControllerClient.cause(e).getMessage());
            } catch (InterruptedException e) {
                // closing
            }
        });
    }

    private void failedCall(Exception e, long now) {
        failures++;
        long cap = Math.min(15_000L, 500L << Math.min(failures, 5));
        long delayMs = cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
        retryAtNs = now + delayMs * 1_000_000L;
        reachability.failed(ControllerClient.cause(e).getMessage(), delayMs, now);
    }

    private void reconcile(Directive d, long now) {
        if (machine.busy()) return; // one step at a time; the directive is looked at again after it
        Assignment a = d.assignment();
        Reconcile.Step step;
        while ((step = Reconcile.next(machine.held(deletedReported), a, a != null && machine.hadBefore(a.instanceId())))
                == Reconcile.Step.FORGET) {
            machine.forget();
            deletedReported = false;
        }
        switch (step) {
            case KEEP, FORGET -> {
                if (d.scrub() && !scrubOwed && machine.held(deletedReported) == null) {
                    scrubOwed = true;
                    machine.rescrub();
                }
            }
            case START -> {
                deletedReported = false;
                consoleAck = d.consoleOffset();
                machine.start(a.instanceId(), a.image(), a.peers(), a.complete());
            }
            case DESTROY -> {
                // The retry pause belongs to the instance whose scrub failed; a node's next tenant's destroy goes at once
                // (it used to wait out the previous instance's pause: up to 30 s for a node reused within 30 s).
                String id = machine.instanceId();
                if (id != null && id.equals(destroyRetryOf) && now - destroyAllowedAtNs < 0) return;
                destroyRetryOf = id;
                destroyAllowedAtNs = now + DESTROY_RETRY_NS;
                deletedReported = false;
                machine.destroy();
            }
            case ADOPT_DELETED -> {
                deletedReported = false;
                machine.adoptDeleted(a.instanceId(), a.image());
            }
            case LOST -> {
                deletedReported = false;
                machine.lost(a.instanceId(), a.image());
            }
        }
    }
}
