package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.NodeRow;
import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The periodic, level-triggered pass: nodes not heard from within the timeout go {@code offline} (their
 * instances show as {@code unknown}), instances past the deadline of a state that waits for an agent fail
 * ({@link Deadlines}), pending instances are placed when a node has freed up, and the metric gauges are refreshed.
 * Not on the launch path: a launch places its own instances; this only picks up those that found no node. A heartbeat that frees a node {@link #wake}s it.
 */
final class Reconciler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Reconciler.class.getName());
    private static final int PENDING_BATCH = 500;
    /** Overdue instances handled per state and pass; the rest wait for the next pass. */
    private static final int DEADLINE_BATCH = 500;

    private final Database db;
    private final NodeRepository nodes;
    private final InstanceRepository instances;
    private final Transitions transitions;
    private final Scheduler scheduler;
    private final Liveness liveness;
    private final FleetMetrics metrics;
    private final long timeoutMs;
    private final long periodMs;
    private final LongSupplier monotonicMs;
    private final LongSupplier clockMs;
    private final Deadlines deadlines;
    private final EventRepository events;
    private final ProgressBoard progress;
    private final Semaphore wake = new Semaphore(0);
    /** When progress was last written (reconciler thread only). */
    private long progressWrittenMs;
    private final Thread thread;
    private volatile boolean closed;

    Reconciler(Database db, NodeRepository nodes, InstanceRepository instances, Transitions transitions, Scheduler scheduler,
            Liveness liveness, FleetMetrics metrics, ProgressBoard progress, long timeoutMs, LongSupplier monotonicMs,
            EventRepository events, Deadlines deadlines, LongSupplier clockMs) {
        this.db = db;
        this.events = events;
        this.deadlines = deadlines;
        this.clockMs = clockMs;
        this.progress = progress;
        this.nodes = nodes;
        this.instances = instances;
        this.transitions = transitions;
        this.scheduler = scheduler;
        this.liveness = liveness;
        this.metrics = metrics;
        this.timeoutMs = timeoutMs;
        // often enough that offline shows within a fraction of the timeout after it expires
        this.periodMs = Math.max(50, Math.min(500, timeoutMs / 4));
        this.monotonicMs = monotonicMs;
        this.thread = Thread.ofPlatform().daemon().name("fleet-reconciler").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    /** Asks for a pass now (a node freed up). */
    void wake() {
        if (wake.availablePermits() == 0) wake.release();
    }

    private void run() {
        while (!closed) {
            try {
                reconcile();
            } catch (RuntimeException e) {
                if (closed) return;
                LOG.log(Level.WARNING, "reconcile pass failed: " + e.getMessage(), e);
            }
            try {
                wake.tryAcquire(periodMs, TimeUnit.MILLISECONDS);
                wake.drainPermits();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    void reconcile() {
        markSilentNodesOffline();
        expireDeadlines();
        placePending();
        writeProgress();
        metrics.counts(db.read(nodes::countByState), db.read(tx -> instances.countByShownState(tx, null)));
    }

    private void markSilentNodesOffline() {
        for (String name : liveness.silentSince(monotonicMs.getAsLong(), timeoutMs)) {
            NodeRow node = db.read(tx -> nodes.find(tx, name)).orElse(null);
            if (node == null || node.state() == NodeState.OFFLINE) {
                liveness.reportedOffline(name);
                continue;
            }
            if (transitions.moveNode(node, NodeState.OFFLINE, node.instanceId(), "node.offline", "node " + name
                    + " offline: no heartbeat for " + timeoutMs + " ms" + (node.instanceId() != null
                            ? "; instance " + node.instanceId() + " is unknown until it reports again" : ""))) {
                liveness.reportedOffline(name);
            }
        }
    }

    /**
     * Instances that waited for their agent longer than their state's deadline fail, with a reason naming it. A destroy
     * whose node is offline does not: failing it would let go of a disk that may still hold the tenant's data. It
     * stays, with a reason saying so, until its agent is back or the operator forces it out.
     */
    private void expireDeadlines() {
        long now = clockMs.getAsLong();
        for (InstanceState state : InstanceState.values()) {
            if (!state.waitsForAgent()) continue;
            Duration limit = deadlines.of(state);
            for (InstanceRow inst : db.read(tx -> instances.overdue(tx, state, now - limit.toMillis(), DEADLINE_BATCH))) {
                String deadline = "the " + state.wire() + " deadline (" + Deadlines.show(limit) + ")";
                if (state.isGoingAway() && inst.nodeState() == NodeState.OFFLINE) {
                    String why = "node " + inst.node() + " is offline past " + deadline + ": its disk cannot be scrubbed;"
                            + " the operator frees this instance with destroy --force (the node is then scrubbed before any reuse)";
                    if (!why.equals(inst.reason())) db.transaction(tx -> {
                        if (instances.note(tx, inst.id(), state, why)) {
                            events.append(tx, new NewEvent("instance.stuck", inst.project(), inst.id(), inst.node(), "instance " + inst.id() + ": " + why));
                        }
                        return null;
                    });
                    continue;
                }
                String why = switch (state) {
                    case SCHEDULED -> "node " + inst.node() + " did not take it within " + deadline;
                    case STARTING -> "its guest was not running within " + deadline;
                    case DESTROYING -> "node " + inst.node() + " did not begin the destroy within " + deadline;
                    default -> "node " + inst.node() + " did not report its scrub verified within " + deadline;
                };
                transitions.move(inst, InstanceState.FAILED, why, false, "instance " + inst.id() + " failed: " + why);
            }
        }
    }

    /** Every instance's changed progress, in one transaction, at most every {@link ProgressBoard#PERSIST_EVERY_MS}. */
    private void writeProgress() {
        long now = monotonicMs.getAsLong();
        if (now - progressWrittenMs < ProgressBoard.PERSIST_EVERY_MS) return;
        progressWrittenMs = now;
        Map<String, InstanceRepository.Progress> changed = new HashMap<>();
        progress.takeChanged().forEach((id, p) -> changed.put(id,
                new InstanceRepository.Progress(p.bytesOnDemand(), p.bytesBackground(), p.fractionLocal(), p.sources())));
        if (!changed.isEmpty()) db.transaction(tx -> {
            instances.progress(tx, changed);
            return null;
        });
    }

    private void placePending() {
        List<InstanceRepository.PendingInstance> pending = db.read(tx -> instances.pending(tx, PENDING_BATCH));
        long smallestMiss = Long.MAX_VALUE;
        for (InstanceRepository.PendingInstance p : pending) {
            if (p.sizeBytes() >= smallestMiss) continue; // no node fits a smaller image, so none fits this one
            if (scheduler.place(p.id(), p.project(), p.sizeBytes(), true).isEmpty()) smallestMiss = p.sizeBytes();
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
