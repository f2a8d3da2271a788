package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.InstanceState;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One hollow node: its registration, its (at most one) scripted instance, and its heartbeat schedule. A few
 * dozen bytes of state; the phase and progress are computed from the instance's start and destroy instants.
 *
 * <p>Its credential is held in memory (and in the fleet's directory when it has one), its report numbers come from
 * an in-memory {@link ReportSequence}. A name another agent holds is refused once and the node stops.
 *
 * <p>Runs on its fleet's scheduler and on HTTP response threads; every field is guarded by {@code this}, and at
 * most one request is in flight per node ({@link #inFlight}).
 */
final class HollowNode {
    private static final long NONE = Long.MIN_VALUE;
    private static final long RETRY_MIN_NS = 500_000_000L;
    private static final long RETRY_MAX_NS = 15_000_000_000L;
    private static final long DEFAULT_INTERVAL_NS = 5_000_000_000L;

    final String name;
    private final HollowFleet fleet;

    private boolean registered;
    /** Refused its name: it sends nothing more. */
    private boolean refused;
    private String credential;
    private final ReportSequence sequence = ReportSequence.inMemory(ReportSequence.clockMicros());
    private long intervalNs = DEFAULT_INTERVAL_NS;
    private boolean inFlight;
    private int failures;
    private ScheduledFuture<?> next;
    private long nextAtNs = Long.MAX_VALUE;

    private String instanceId;
    private String lastInstanceId;
    private long startedAtNs = NONE;
    private long destroyedAtNs = NONE;
    /** Overrides the timeline: a lost instance (failed) or one adopted as already deleted. */
    private InstanceState fixed;
    private String reason;
    private boolean deletedReported;
    private long consoleAck;
    private long imageBytes;
    /** An ordered scrub the controller has not yet heard under way: reported as a disk not clean until it has. */
    private boolean scrubOwed;

    HollowNode(String name, HollowFleet fleet) {
        this.name = name;
        this.fleet = fleet;
    }

    synchronized boolean isRegistered() {
        return registered;
    }

    /** Moves the next heartbeat to {@code atNs} if that is sooner than the one planned. */
    synchronized void scheduleAt(long atNs) {
        if (fleet.closed()) return;
        if (next != null && !next.isDone() && atNs - nextAtNs >= 0) return;
        if (next != null) next.cancel(false);
        nextAtNs = atNs;
        long delay = Math.max(0, atNs - System.nanoTime());
        next = fleet.scheduler.schedule(this::beat, delay, TimeUnit.NANOSECONDS);
    }

    private void beat() {
        AgentProtocol.Report report;
        boolean register;
        long waitNs;
        synchronized (this) {
            next = null;
            nextAtNs = Long.MAX_VALUE;
            if (inFlight || refused || fleet.closed()) return;
            register = !registered;
            report = register ? null : report(System.nanoTime());
            // An idle node long-polls, outside the fleet's in-flight bound: a held poll costs the controller a
            // socket and no work, and bounding polls would leave 64 nodes hearing news at once and the rest late.
            waitNs = report != null && ControllerClient.isIdle(report) ? intervalNs : 0;
            if (waitNs == 0 && !fleet.tryAcquire()) {
                // Too many requests in flight fleet-wide: come back a little later, at a jittered instant.
                scheduleAt(System.nanoTime() + ThreadLocalRandom.current().nextLong(10_000_000L, 50_000_000L));
                return;
            }
            inFlight = true;
        }
        long sentNs = System.nanoTime();
        if (register) {
            String held;
            synchronized (this) {
                if (credential == null) credential = fleet.credential(name);
                held = credential;
            }
            fleet.client.register(fleet.hello(name), held == null ? "" : held).whenComplete((welcome, err) -> {
                fleet.release();
                if (err != null) {
                    failed(err);
                    return;
                }
                if (welcome.credential() != null) fleet.keepCredential(name, welcome.credential());
                synchronized (this) {
                    if (welcome.credential() != null) credential = welcome.credential();
                    inFlight = false;
                    registered = true;
                    failures = 0;
                    if (welcome.heartbeatIntervalMs() > 0) intervalNs = welcome.heartbeatIntervalMs() * 1_000_000L;
                }
                fleet.reachability.ok();
                scheduleAt(System.nanoTime());
            });
        } else {
            fleet.client.heartbeat(report, credentialNow(), waitNs / 1_000_000).whenComplete((directive, err) -> {
                if (waitNs == 0) fleet.release();
                if (err != null) {
                    failed(err);
                    return;
                }
                fleet.reachability.ok();
                applied(report, directive, waitNs > 0 && ControllerClient.pollAgain(directive, waitNs, System.nanoTime() - sentNs));
            });
        }
    }

    private synchronized String credentialNow() {
        return credential == null ? "" : credential;
    }

    private void failed(Throwable err) {
        Throwable cause = ControllerClient.cause(err);
        long delay;
        if (cause instanceof ControllerClient.RefusedException r && r.status == 409) {
            synchronized (this) {
                inFlight = false;
                refused = true;
            }
            fleet.refused(name, r.error != null ? r.error : r.getMessage());
            return;
        }
        synchronized (this) {
            inFlight = false;
            failures++;
            // A controller that forgot this node (404) wants it to register again; one that refuses its credential
            // (401, 403: the name was freed and taken) answers the registration with why.
            if (cause instanceof ControllerClient.RefusedException r && (r.status == 404 || r.status == 401 || r.status == 403)) {
                registered = false;
            }
            long cap = Math.min(RETRY_MAX_NS, RETRY_MIN_NS << Math.min(failures, 5));
            delay = cap / 2 + ThreadLocalRandom.current().nextLong(cap / 2 + 1);
        }
        fleet.reachability.failed(cause.getMessage(), delay / 1_000_000, System.nanoTime());
        scheduleAt(System.nanoTime() + delay);
    }

    /**
     * Takes the directive's next steps, then plans the next heartbeat: at once if anything changed or a long-poll
     * was held and answered ({@code pollAgain}).
     */
    private void applied(AgentProtocol.Report sent, Directive d, boolean pollAgain) {
        long now = System.nanoTime();
        boolean changed = false;
        synchronized (this) {
            inFlight = false;
            failures = 0;
            if (sent.instance() != null && sent.instance().id().equals(instanceId)
                    && InstanceState.DELETED.wire().equals(sent.instance().phase())) {
                deletedReported = true;
            }
            if (scrubOwed && !sent.diskClean()) scrubOwed = false; // heard: a hollow scrub takes no time
            if (d != null && d.assignment() != null && d.assignment().instanceId().equals(instanceId)) {
                consoleAck = d.consoleOffset();
            }
            AgentProtocol.Assignment a = d == null ? null : d.assignment();
            Reconcile.Step step;
            while ((step = Reconcile.next(held(now), a, a != null && a.instanceId().equals(lastInstanceId))) == Reconcile.Step.FORGET) {
                lastInstanceId = instanceId;
                instanceId = null;
                changed = true;
            }
            switch (step) {
                case START -> {
                    if (a.image() == null) {
                        hold(a.instanceId(), InstanceState.FAILED, Machine.noImage(a.instanceId()));
                        break;
                    }
                    hold(a.instanceId(), null, null);
                    startedAtNs = now;
                    imageBytes = a.image() == null ? 0 : Math.max(a.image().allocatedBytes(), 0);
                    consoleAck = d.consoleOffset();
                }
                case DESTROY -> {
                    destroyedAtNs = now;
                    fixed = null;
                }
                case ADOPT_DELETED -> hold(a.instanceId(), InstanceState.DELETED, null);
                case LOST -> hold(a.instanceId(), InstanceState.FAILED, "the agent lost the instance");
                case KEEP, FORGET -> {
                    if (d != null && d.scrub() && instanceId == null && !scrubOwed) {
                        scrubOwed = true;
                        changed = true;
                    }
                }
            }
            changed |= step != Reconcile.Step.KEEP;
        }
        long at;
        synchronized (this) {
            long jittered = (long) (intervalNs * ThreadLocalRandom.current().nextDouble(0.9, 1.1));
            at = changed || pollAgain ? now : Math.min(now + jittered, nextChange(now));
        }
        scheduleAt(at);
    }

    private void hold(String id, InstanceState fixedPhase, String why) {
        instanceId = id;
        fixed = fixedPhase;
        reason = why;
        startedAtNs = NONE;
        destroyedAtNs = NONE;
        deletedReported = false;
        consoleAck = 0;
    }

    private Reconcile.Held held(long now) {
        if (instanceId == null) return null;
        return new Reconcile.Held(instanceId, phase(now), destroyedAtNs != NONE, deletedReported);
    }

    private InstanceState phase(long now) {
        if (destroyedAtNs == NONE && fixed != null) return fixed;
        if (startedAtNs == NONE) return destroyedAtNs == NONE ? InstanceState.DELETED : fleet.timeline.phase(now, destroyedAtNs, now);
        return fleet.timeline.phase(startedAtNs, destroyedAtNs, now);
    }

    private long nextChange(long now) {
        if (instanceId == null || (fixed != null && destroyedAtNs == NONE)) return Long.MAX_VALUE;
        return fleet.timeline.nextChangeNs(startedAtNs == NONE ? now : startedAtNs, destroyedAtNs, now);
    }

    private synchronized AgentProtocol.Report report(long now) {
        long seq;
        try {
            seq = sequence.next();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // in memory: never
        }
        if (instanceId == null) return new AgentProtocol.Report(name, seq, null, !scrubOwed);
        InstanceState phase = phase(now);
        HollowTimeline t = fleet.timeline;
        long progressAt = destroyedAtNs == NONE ? now : destroyedAtNs;
        boolean ran = startedAtNs != NONE;
        InstanceState reached = ran ? t.phase(startedAtNs, NONE, progressAt) : InstanceState.STARTING;
        String console = ran ? HollowTimeline.console(name, instanceId, reached, destroyedAtNs != NONE) : "";
        byte[] bytes = console.getBytes(StandardCharsets.UTF_8);
        int from = (int) Math.min(Math.max(consoleAck, 0), bytes.length);
        int to = Math.min(bytes.length, from + ConsoleTail.MAX_CHUNK);
        var inst = new AgentProtocol.InstanceReport(instanceId, phase.wire(), reason,
                ran ? t.bytesOnDemand(imageBytes, startedAtNs, progressAt) : 0, ran ? t.bytesBackground(imageBytes, startedAtNs, progressAt) : 0,
                ran ? t.fractionLocal(startedAtNs, progressAt) : 0, from,
                new String(bytes, from, to - from, StandardCharsets.UTF_8));
        boolean clean = phase == InstanceState.DELETED;
        return new AgentProtocol.Report(name, seq, inst, clean);
    }
}
