package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.NodeRow;
import io.bmcast.fleet.NodeState;
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
 * instances show as {@code unknown}), pending instances are placed when a node has freed up, and the metric
 * gauges are refreshed. Not on the launch path: a launch places its own instances; this only picks up those
 * that found no node. A heartbeat that frees a node {@link #wake}s it.
 */
final class Reconciler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Reconciler.class.getName());
    private static final int PENDING_BATCH = 500;

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
    private final ProgressBoard progress;
    private final Semaphore wake = new Semaphore(0);
    /** When progress was last written (reconciler thread only). */
    private long progressWrittenMs;
    private final Thread thread;
    private volatile boolean closed;

    Reconciler(Database db, NodeRepository nodes, InstanceRepository instances, Transitions transitions, Scheduler scheduler,
            Liveness liveness, FleetMetrics metrics, ProgressBoard progress, long timeoutMs, LongSupplier monotonicMs) {
        this.db = db;
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

    /** Every instance's changed progress, in one transaction, at most every {@link ProgressBoard#PERSIST_EVERY_MS}. */
    private void writeProgress() {
        long now = monotonicMs.getAsLong();
        if (now - progressWrittenMs < ProgressBoard.PERSIST_EVERY_MS) return;
        progressWrittenMs = now;
        Map<String, InstanceRepository.Progress> changed = new HashMap<>();
        progress.takeChanged().forEach((id, p) -> changed.put(id,
                new InstanceRepository.Progress(p.bytesOnDemand(), p.bytesBackground(), p.fractionLocal())));
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
