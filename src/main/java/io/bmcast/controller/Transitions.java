package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.NodeRow;
import io.bmcast.controller.store.Tx;
import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import java.sql.SQLException;
import java.util.function.LongSupplier;

/**
 * Instance and node state changes, each one transaction: the conditional row update, what it means for the
 * node, and its event. An illegal transition (by the {@link InstanceState} / {@link NodeState} tables) is a
 * {@link ControllerException}; losing a race to another actor is {@code false}, and the caller reads again.
 */
final class Transitions {
    private final Database db;
    private final InstanceRepository instances;
    private final NodeRepository nodes;
    private final EventRepository events;
    private final LongSupplier clockMs;

    Transitions(Database db, InstanceRepository instances, NodeRepository nodes, EventRepository events, LongSupplier clockMs) {
        this.db = db;
        this.instances = instances;
        this.nodes = nodes;
        this.events = events;
        this.clockMs = clockMs;
    }

    static void check(InstanceRow inst, InstanceState to) {
        if (!inst.state().canMoveTo(to)) {
            throw ControllerException.conflict("instance " + inst.id() + " cannot go from " + inst.state().wire() + " to " + to.wire());
        }
    }

    static void check(NodeRow node, NodeState to) {
        if (!node.state().canMoveTo(to)) {
            throw ControllerException.conflict("node " + node.name() + " cannot go from " + node.state().wire() + " to " + to.wire());
        }
    }

    /**
     * Moves {@code inst} (as read) to {@code to}, and its node with it:
     * <ul>
     * <li>destroying, scrubbing: a busy node starts scrubbing;
     * <li>deleted: the node is freed, {@code available} only when its agent reports the disk clean (else it
     *     stays {@code scrubbing} until it does);
     * <li>failed while going away (the scrub could not be verified): the node is {@code failed} and freed, so
     *     no tenant gets it before a later verified scrub.
     * </ul>
     *
     * @return false when the instance was no longer in the state read (nothing changed)
     */
    boolean move(InstanceRow inst, InstanceState to, String reason, boolean diskClean, String message) {
        check(inst, to);
        long now = clockMs.getAsLong();
        boolean recovering = inst.state() == InstanceState.FAILED && !to.isGoingAway() && to != InstanceState.FAILED;
        try {
            return db.transaction(tx -> {
                if (!instances.move(tx, inst.id(), inst.state(), to, reason, now)) return false;
                // A failed instance comes back to life only on the node that still holds it. One that failed on its way
                // out (a scrub not verified, a destroy past its deadline) let go of its node then: the tenant asked
                // for it to go, and a late report from a concurrent heartbeat must not bring it back (checked after
                // the update, which waits for any transition of this row in flight, so its node change is seen).
                if (recovering && !nodes.find(tx, inst.node()).map(n -> inst.id().equals(n.instanceId())).orElse(false)) {
                    throw new Changed();
                }
                if (inst.node() != null) moveNode(tx, inst, to, diskClean, now);
                events.append(tx, new NewEvent("instance." + to.wire(), inst.project(), inst.id(), inst.node(), message));
                return true;
            });
        } catch (Changed e) {
            return false;
        }
    }

    private void moveNode(Tx tx, InstanceRow inst, InstanceState to, boolean diskClean, long now) throws SQLException {
        NodeRow node = nodes.find(tx, inst.node()).orElse(null);
        if (node == null || !inst.id().equals(node.instanceId())) return; // the node no longer holds it
        NodeState target;
        String holder = inst.id();
        switch (to) {
            case DESTROYING, SCRUBBING -> target = node.state() == NodeState.BUSY ? NodeState.SCRUBBING : null;
            case DELETED -> {
                target = diskClean ? NodeState.AVAILABLE : NodeState.SCRUBBING;
                holder = null;
            }
            case FAILED -> {
                boolean scrubFailed = inst.state() == InstanceState.DESTROYING || inst.state() == InstanceState.SCRUBBING;
                target = scrubFailed ? NodeState.FAILED : null;
                if (scrubFailed) holder = null;
            }
            default -> target = null;
        }
        // An offline node keeps its instance until its agent is back and says what became of it.
        if (target == null || node.state() == NodeState.OFFLINE) return;
        if (target == node.state() && holder != null) return;
        // a deleted instance's node that was never moved to scrubbing passes through it: busy -> available is no edge
        if (to == InstanceState.DELETED && !node.state().canMoveTo(target) && target != node.state()) target = NodeState.SCRUBBING;
        if (target != node.state()) check(node, target);
        if (nodes.moveHolding(tx, node.name(), inst.id(), node.state(), target, holder, now) && target != node.state()) {
            events.append(tx, NewEvent.node("node." + target.wire(), node.name(), "node " + node.name() + " " + target.wire()
                    + switch (target) {
                        case AVAILABLE -> ": disk scrubbed and verified";
                        case SCRUBBING -> ": scrubbing after instance " + inst.id();
                        case FAILED -> ": the scrub after instance " + inst.id() + " could not be verified";
                        default -> "";
                    }));
        }
    }

    /**
     * The operator's {@code destroy --force}: {@code inst} (as read) is deleted now, whatever its node does. The node
     * that held it lets go of it and owes a verified scrub before any reuse: {@code scrubbing} (or still
     * {@code offline}: when its agent is back it is told to scrub). False when the instance or its node changed
     * meanwhile (nothing changed; read again).
     */
    boolean forceDelete(InstanceRow inst, String reason) {
        if (!inst.state().canBeForced()) throw ControllerException.conflict("instance " + inst.id() + " is " + inst.state().wire());
        long now = clockMs.getAsLong();
        try {
            return db.transaction(tx -> {
                if (!instances.move(tx, inst.id(), inst.state(), InstanceState.DELETED, reason, now)) return false;
                events.append(tx, new NewEvent("instance.deleted", inst.project(), inst.id(), inst.node(), "instance " + inst.id()
                        + " deleted by the operator (destroy --force), from " + inst.state().wire()
                        + (inst.node() != null ? " on node " + inst.node() : "")));
                NodeRow node = inst.node() == null ? null : nodes.find(tx, inst.node()).orElse(null);
                // Only the node that still holds it can hold its data: a node freed earlier was freed by a verified scrub.
                if (node != null && inst.id().equals(node.instanceId())) requireScrub(tx, node, inst.id(), now);
                return true;
            });
        } catch (Changed e) {
            return false;
        }
    }

    /**
     * The operator's {@code node scrub}: the node (holding nothing, or only a deleted instance) owes a verified scrub
     * before it is offered again. False when it changed meanwhile.
     */
    boolean requireScrub(NodeRow node) {
        long now = clockMs.getAsLong();
        try {
            return db.transaction(tx -> {
                requireScrub(tx, node, node.instanceId(), now);
                return true;
            });
        } catch (Changed e) {
            return false;
        }
    }

    private void requireScrub(Tx tx, NodeRow node, String holder, long now) throws SQLException {
        NodeState to = node.state() == NodeState.OFFLINE ? NodeState.OFFLINE : NodeState.SCRUBBING;
        if (to != node.state()) check(node, to);
        if (!nodes.requireScrub(tx, node.name(), node.state(), holder, to, now)) throw new Changed();
        events.append(tx, NewEvent.node("node.must-scrub", node.name(), "node " + node.name() + " must be scrubbed and verified"
                + " before any reuse" + (holder != null ? " (it held instance " + holder + ")" : "")
                + (to == NodeState.OFFLINE ? "; its agent is told so when it is back" : "")));
    }

    /** Rolls a transaction back when a row it read changed before its conditional update. */
    private static final class Changed extends RuntimeException {
        Changed() {
            super(null, null, false, false);
        }
    }

    /**
     * Moves a node that holds no instance (or only a deleted one) from {@code node.state()} to {@code to};
     * false when it changed meanwhile: its state, or the instance it holds.
     */
    boolean moveNode(NodeRow node, NodeState to, String instanceId, String type, String message) {
        check(node, to);
        long now = clockMs.getAsLong();
        return db.transaction(tx -> {
            boolean moved = node.instanceId() == null ? nodes.move(tx, node.name(), node.state(), to, instanceId, now)
                    : nodes.moveHolding(tx, node.name(), node.instanceId(), node.state(), to, instanceId, now);
            if (!moved) return false;
            events.append(tx, NewEvent.node(type, node.name(), message));
            return true;
        });
    }
}
