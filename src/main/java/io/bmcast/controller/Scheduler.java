package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.StoreException;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * Puts a pending instance on a free node. Called by each launch on its own thread and by the reconciler for
 * instances that found none: there is no scheduling thread and no lock beyond the rows one claim touches.
 */
final class Scheduler {
    /** Lock waits that time out under a burst of claims are retried this many times before giving up. */
    private static final int ATTEMPTS = 5;

    private final Database db;
    private final NodeRepository nodes;
    private final InstanceRepository instances;
    private final EventRepository events;
    private final NodeSignals signals;
    private final LongSupplier clockMs;

    Scheduler(Database db, NodeRepository nodes, InstanceRepository instances, EventRepository events, NodeSignals signals,
            LongSupplier clockMs) {
        this.db = db;
        this.nodes = nodes;
        this.instances = instances;
        this.events = events;
        this.signals = signals;
        this.clockMs = clockMs;
    }

    /**
     * Claims a free node with at least {@code diskBytes} and schedules {@code id} on it, in one transaction.
     * Empty when no node is free (the instance stays pending), or when the instance is no longer pending (a
     * destroy or another placement won): then the claimed node is given back by the rollback.
     *
     * <p>The node's agent, if it is long-polling, hears of the instance at once: its signal fires after the commit,
     * never before, so the woken heartbeat reads the claim.
     */
    Optional<String> place(String id, String project, long diskBytes, boolean afterWaiting) {
        return place(id, project, diskBytes, afterWaiting, true);
    }

    /**
     * As {@link #place(String, String, long, boolean)}, waking the node's agent only when {@code wake}: a launch of
     * several instances wakes their agents ({@link #wake}) once all are placed, so that each agent's first answer
     * already lists every node of the launch as a member of the image's deployment (one distribution tree).
     */
    Optional<String> place(String id, String project, long diskBytes, boolean afterWaiting, boolean wake) {
        Optional<String> placed = claim(id, project, diskBytes, afterWaiting);
        if (wake) placed.ifPresent(signals::fire);
        return placed;
    }

    /** Wakes {@code node}'s agent if it is long-polling: it has been given an instance. */
    void wake(String node) {
        signals.fire(node);
    }

    private Optional<String> claim(String id, String project, long diskBytes, boolean afterWaiting) {
        for (int attempt = 1; ; attempt++) {
            try {
                return db.transaction(tx -> {
                    long now = clockMs.getAsLong();
                    Optional<String> node = nodes.claim(tx, id, diskBytes, now);
                    if (node.isEmpty()) return node;
                    if (!instances.schedule(tx, id, node.get(), now)) throw new NoLongerPending();
                    events.append(tx, new NewEvent("instance.scheduled", project, id, node.get(), "instance " + id
                            + " scheduled on node " + node.get() + (afterWaiting ? " (a node freed up)" : "")));
                    return node;
                });
            } catch (NoLongerPending e) {
                return Optional.empty();
            } catch (StoreException e) {
                if (!e.isTransient() || attempt == ATTEMPTS) throw e;
            }
        }
    }

    /** Rolls a claim back when its instance stopped being pending between the read and the update. */
    private static final class NoLongerPending extends RuntimeException {
        NoLongerPending() {
            super(null, null, false, false);
        }
    }
}
