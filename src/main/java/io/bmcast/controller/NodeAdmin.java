package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.NodeRow;
import io.bmcast.fleet.InstanceState;
import java.util.function.LongSupplier;

/**
 * What an operator does to a node (the way out when a machine is dead, reinstalled or under suspicion): remove it,
 * put it in maintenance, order a scrub. Each is one conditional change; one that loses a race is read again.
 */
public final class NodeAdmin {
    private static final int ATTEMPTS = 10;

    private final Database db;
    private final NodeRepository nodes;
    private final InstanceRepository instances;
    private final EventRepository events;
    private final Transitions transitions;
    private final Liveness liveness;
    private final NodeSignals signals;
    private final LongSupplier clockMs;

    NodeAdmin(Database db, NodeRepository nodes, InstanceRepository instances, EventRepository events, Transitions transitions,
            Liveness liveness, NodeSignals signals, LongSupplier clockMs) {
        this.db = db;
        this.nodes = nodes;
        this.instances = instances;
        this.events = events;
        this.transitions = transitions;
        this.liveness = liveness;
        this.signals = signals;
        this.clockMs = clockMs;
    }

    /**
     * Forgets the node: its row, and with it its credential, so that a reinstalled machine may register the name
     * again. Refused while it holds an instance that is not deleted, unless {@code force}: then that instance is
     * deleted first, as {@code destroy --force} does.
     */
    public void remove(String name, boolean force) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            NodeRow node = find(name);
            InstanceRow held = node.instanceId() == null ? null : db.read(tx -> instances.find(tx, node.instanceId())).orElse(null);
            if (held != null && held.state() != InstanceState.DELETED) {
                if (!force) {
                    throw ControllerException.conflict("node " + name + " holds instance " + held.id() + " (" + held.state().wire()
                            + "); destroy it first, or remove the node with --force (the instance is deleted with it)");
                }
                transitions.forceDelete(held, "deleted with its node " + name + " (node rm --force)");
                continue; // read again: the node now owes a scrub and holds nothing
            }
            boolean removed = db.transaction(tx -> {
                if (!nodes.deleteIf(tx, name, node.instanceId())) return false;
                events.append(tx, NewEvent.node("node.removed", name, "node " + name + " removed by the operator"
                        + (force ? " (--force)" : "") + "; the name is free to register again"));
                return true;
            });
            if (removed) {
                liveness.forget(name);
                signals.fire(name); // a held long-poll answers now, and its agent hears the node is gone
                return;
            }
        }
        throw new ControllerException(ControllerException.Kind.UNAVAILABLE, "node " + name + " keeps changing state; try again");
    }

    /** Maintenance on: the node gets no new instance; what it runs keeps running. Off: it is offered again. */
    public void maintenance(String name, boolean on) {
        find(name);
        boolean changed = db.transaction(tx -> {
            if (!nodes.maintenance(tx, name, on, clockMs.getAsLong())) return false;
            events.append(tx, NewEvent.node(on ? "node.maintenance" : "node.in-service", name, "node " + name
                    + (on ? " in maintenance: no new instances; what it runs keeps running" : " out of maintenance: offered again")));
            return true;
        });
        if (!changed) throw ControllerException.notFound("no node " + name);
    }

    /**
     * The operator's re-scrub (a {@code failed} node, or one under suspicion): its agent scrubs and verifies again, and
     * the node is offered only once it reports the new scrub clean. Refused while it holds a live instance.
     */
    public void scrub(String name) {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            NodeRow node = find(name);
            InstanceRow held = node.instanceId() == null ? null : db.read(tx -> instances.find(tx, node.instanceId())).orElse(null);
            if (held != null && held.state() != InstanceState.DELETED) {
                throw ControllerException.conflict("node " + name + " holds instance " + held.id() + " (" + held.state().wire()
                        + "); destroying it scrubs the node");
            }
            if (transitions.requireScrub(node)) {
                signals.fire(name);
                return;
            }
        }
        throw new ControllerException(ControllerException.Kind.UNAVAILABLE, "node " + name + " keeps changing state; try again");
    }

    private NodeRow find(String name) {
        return db.read(tx -> nodes.find(tx, name)).orElseThrow(() -> ControllerException.notFound("no node " + name));
    }
}
