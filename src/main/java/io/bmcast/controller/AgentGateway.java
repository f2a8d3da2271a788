package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.NodeIdentity;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.NodeRow;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.AgentProtocol.InstanceReport;
import io.bmcast.fleet.AgentProtocol.Report;
import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * The controller's side of {@link AgentProtocol}: registration, and the heartbeat that is one
 * level-triggered reconcile of a node, comparing what its agent observes with what the database wants and
 * answering the desired state. Every change it makes is a conditional update; a heartbeat that loses a race
 * changes nothing and the next one converges.
 */
public final class AgentGateway {
    private static final Logger LOG = Logger.getLogger(AgentGateway.class.getName());
    /** How long a stopping controller waits for its held heartbeats' answers; they need no database, so little. */
    private static final long STOP_WAIT_MS = 1000;
    /** The instances.reason column's width. */
    private static final int MAX_REASON = 2048;

    private final Database db;
    private final NodeRepository nodes;
    private final InstanceRepository instances;
    private final EventRepository events;
    private final Transitions transitions;
    private final ImageCatalog images;
    private final ProgressBoard progress;
    private final ConsoleLogs consoles;
    private final Liveness liveness;
    private final SerializedLaunches serialized;
    private final FleetMetrics metrics;
    private final Runnable nodeFreed;
    private final NodeSignals signals;
    private final long heartbeatIntervalMs;
    /** The longest a heartbeat is held (see {@link #heartbeat(Report, String, long)}). */
    private final long maxWaitMs;
    /** Where a held heartbeat's answer is computed once it wakes: not on the thread that fired its signal. */
    private final Executor answers = Executors.newVirtualThreadPerTaskExecutor();
    private volatile boolean closing;
    /** Held heartbeats not yet answered, so that a stopping controller can answer them before its server goes. */
    private final java.util.Set<CompletableFuture<Directive>> held = ConcurrentHashMap.newKeySet();
    private final LongSupplier clockMs;
    private final LongSupplier monotonicMs;
    /** The last illegal phase each instance's agent reported, so a stuck agent yields one event, not one a second. */
    private final ConcurrentHashMap<String, String> illegalReported = new ConcurrentHashMap<>();
    private final ReportOrder reportOrder = new ReportOrder();
    /** Who holds which image's chunks, and the fleet's peer token; null: a controller without peers (tests). */
    private volatile Tracker tracker;

    AgentGateway(Database db, NodeRepository nodes, InstanceRepository instances, EventRepository events,
            Transitions transitions, ImageCatalog images, ProgressBoard progress, ConsoleLogs consoles, Liveness liveness,
            SerializedLaunches serialized, FleetMetrics metrics, Runnable nodeFreed, NodeSignals signals, long heartbeatIntervalMs,
            long heartbeatTimeoutMs, LongSupplier clockMs, LongSupplier monotonicMs) {
        this.db = db;
        this.nodes = nodes;
        this.instances = instances;
        this.events = events;
        this.transitions = transitions;
        this.images = images;
        this.progress = progress;
        this.consoles = consoles;
        this.liveness = liveness;
        this.serialized = serialized;
        this.metrics = metrics;
        this.nodeFreed = nodeFreed;
        this.signals = signals;
        this.heartbeatIntervalMs = heartbeatIntervalMs;
        // At most one interval, the agent's usual silence; and well inside the offline timeout, so that a node
        // whose held answer is lost on the way is still heard (its next poll) before it counts as offline.
        this.maxWaitMs = Math.max(0, Math.min(heartbeatIntervalMs, heartbeatTimeoutMs / 2));
        this.clockMs = clockMs;
        this.monotonicMs = monotonicMs;
    }

    /** Makes this gateway the tracker's source: peers registered and reported, peers listed in assignments. */
    AgentGateway withTracker(Tracker tracker) {
        this.tracker = tracker;
        return this;
    }

    /**
     * A machine joins, or joins again: a known name keeps its state (and its instance) and has its hardware
     * updated. A new node starts {@code scrubbing}: it is offered to tenants once its agent reports a clean disk.
     *
     * <p>A new name is given its own credential, returned once. A known name needs its credential: without it (a
     * second agent given the same {@code --name}, or a reinstalled machine that lost it) the registration is
     * refused and changes nothing. A node carried over from before credentials existed (none stored) is claimed by
     * the first agent that registers it after the upgrade.
     *
     * @param credential the {@link AgentProtocol#CREDENTIAL_HEADER} the agent sent, or null
     */
    public AgentProtocol.Welcome register(AgentProtocol.Hello request, String credential) {
        AgentProtocol.Hello hello = AgentInput.hello(request);
        String name = hello.name();
        String accel = hello.accel();
        long now = clockMs.getAsLong();
        // Insert first: a new name (the usual case) costs one statement, a known one is read only when it exists.
        String fresh = NodeCredentials.issue();
        NodeRow row = new NodeRow(name, NodeState.SCRUBBING, hello.diskBytes(), hello.memoryBytes(), hello.cpus(), accel,
                hello.simulated(), null, now, now);
        boolean isNew = db.read(tx -> nodes.insert(tx, row, NodeCredentials.hash(fresh)));
        String issued = isNew ? fresh : null;
        if (!isNew) {
            NodeIdentity id = db.read(tx -> nodes.identity(tx, name))
                    .orElseThrow(() -> ControllerException.conflict("node " + name + " is being removed; register again"));
            if (id.credentialHash() == null) {
                if (!db.read(tx -> nodes.claimUnowned(tx, name, NodeCredentials.hash(fresh)))) throw taken(name);
                issued = fresh;
                LOG.info("node " + name + " (registered before node credentials) claimed by the agent that registered it now");
            } else if (!NodeCredentials.matches(credential, id.credentialHash())) {
                throw taken(name);
            }
        }
        if (issued != null) reportOrder.forget(name); // a new credential, a new agent: its own sequence
        Tracker t = tracker;
        if (t != null) {
            if (issued != null) t.forget(name);
            t.registered(name, hello.peerUrl(), hello.zone());
        }
        boolean created = isNew;
        db.transaction(tx -> {
            if (!created) nodes.updateHardware(tx, name, hello.diskBytes(), hello.memoryBytes(), hello.cpus(), accel, hello.simulated(), now);
            events.append(tx, NewEvent.node(created ? "node.registered" : "node.reregistered", name, "node " + name
                    + (created ? " registered" : " registered again") + ": disk " + io.bmcast.util.Units.formatSize(hello.diskBytes())
                    + ", " + hello.cpus() + " CPUs, " + accel + (hello.simulated() ? " (simulated)" : "")));
            return null;
        });
        liveness.heard(name, monotonicMs.getAsLong(), now);
        // The peer token rides in the Welcome: only an agent that proved the node's credential (or was just issued it) gets here.
        return new AgentProtocol.Welcome(name, heartbeatIntervalMs, issued, t == null ? null : t.peerToken());
    }

    /** The answer to a second agent with a taken name: what happened, and how an operator frees the name. */
    static ControllerException taken(String name) {
        return ControllerException.conflict("node " + name + " is already registered to another agent; if this machine was "
                + "reinstalled, free the name with `bmcast node rm " + name + "`");
    }

    /**
     * One heartbeat: apply what the agent observes, answer what this node should do. Only the node's own agent
     * (its credential) is heard, and only a report newer than the last one applied changes anything: an older one
     * (delayed on the way) is answered and otherwise ignored.
     *
     * @param credential the {@link AgentProtocol#CREDENTIAL_HEADER} the agent sent, or null
     */
    public Directive heartbeat(Report raw, String credential) {
        Report report = AgentInput.report(raw);
        String name = report.name();
        if (!authenticated(report, credential)) return directive(findNode(name));
        NodeRow before = findNode(name);
        liveness.heard(name, monotonicMs.getAsLong(), clockMs.getAsLong());
        metrics.heartbeat();
        Tracker t = tracker;
        if (t != null) t.cached(name, report.cachedImages());
        NodeRow node = before.state() == NodeState.OFFLINE ? comeBack(before, report) : before;
        InstanceReport seen = report.instance();
        InstanceRow held = node.instanceId() == null ? null : db.read(tx -> instances.find(tx, node.instanceId())).orElse(null);
        if (seen != null && held != null && seen.id().equals(held.id())) {
            applyInstanceReport(held, seen, report.diskClean());
        } else if (held != null && seen == null) {
            applyNothingRuns(node, held, report.diskClean());
        } else if (held == null || held.state() == InstanceState.DELETED) {
            // The node as read above, not again: a launch may have claimed it meanwhile, and a fresh read would
            // show it busy with that new instance and free it as if that one were deleted.
            applyFreeNode(node, report.diskClean());
        }
        return directive(findNode(name));
    }

    /**
     * The boot profile {@code node}'s deployment of {@code image} recorded up to its guest's ready marker. Only the
     * node's own agent is heard, and only for the image of the instance it holds: a node cannot set the order in
     * which other tenants' launches of an image it never ran are fetched (a hint only, but an operator's, not a
     * stranger's). True when it was kept (the first), false when the image had one already.
     */
    public boolean bootProfile(String node, String credential, String image, byte[] profile) {
        if (node == null || !AgentInput.NODE_NAME.matcher(node).matches()) throw ControllerException.invalid("node must name the node sending the profile");
        if (credential == null || credential.isBlank()) {
            throw new ControllerException(ControllerException.Kind.UNAUTHENTICATED, "a boot profile needs the node's credential in the "
                    + AgentProtocol.CREDENTIAL_HEADER + " header");
        }
        NodeIdentity id = db.read(tx -> nodes.identity(tx, node))
                .orElseThrow(() -> ControllerException.notFound("node " + node + " is not registered; register it first"));
        if (!NodeCredentials.matches(credential, id.credentialHash())) {
            throw ControllerException.forbidden("this credential is not node " + node + "'s");
        }
        NodeRow row = findNode(node);
        InstanceRow held = row.instanceId() == null ? null : db.read(tx -> instances.find(tx, row.instanceId())).orElse(null);
        if (held == null || !held.image().equals(image) || held.state() == InstanceState.DELETED) {
            throw ControllerException.conflict("node " + node + " runs no instance of image " + image + ": only a deployment of it records its boot profile");
        }
        return images.recordBootProfile(image, profile, node);
    }

    /**
     * Whether {@code report} is to be applied: true when it comes with its node's credential and is newer than the
     * last one applied (see {@link ReportOrder}). False for an older or equal one; refused (401, 403, 404) when the
     * caller does not speak for the node, and then nothing about the node changes.
     */
    private boolean authenticated(Report report, String credential) {
        String name = report.name();
        if (credential == null || credential.isBlank()) {
            throw new ControllerException(ControllerException.Kind.UNAUTHENTICATED, "a heartbeat needs the node's credential in the "
                    + AgentProtocol.CREDENTIAL_HEADER + " header (issued when the node first registers)");
        }
        NodeIdentity id = db.read(tx -> nodes.identity(tx, name))
                .orElseThrow(() -> ControllerException.notFound("node " + name + " is not registered; register it first"));
        if (!NodeCredentials.matches(credential, id.credentialHash())) {
            throw ControllerException.forbidden("this credential is not node " + name + "'s: only the agent that registered "
                    + name + " may report for it");
        }
        int verdict = reportOrder.accept(name, report.seq(), id.lastSeq(), monotonicMs.getAsLong());
        if (verdict == 2) db.read(tx -> nodes.advanceSeq(tx, name, id.credentialHash(), report.seq()));
        return verdict != 0;
    }

    /**
     * A long-poll: one heartbeat, as {@link #heartbeat(Report, String)}, whose answer is held for up to {@code waitMs}
     * (capped at one heartbeat interval) while the node is available and holds nothing, and given at once when a
     * launch claims the node. So an idle node hears of its instance as soon as the claim commits, not at its next
     * heartbeat. Still level-triggered: the answer is the node's desired state read when it is sent, and a lost
     * answer only means the next poll. A held heartbeat counts as one when it arrives and again when it is
     * answered, so a node waiting here never looks silent.
     *
     * <p>Holding costs no thread: the caller answers when the future completes (an asynchronous HTTP response).
     */
    public CompletableFuture<Directive> heartbeat(Report report, String credential, long waitMs) {
        Directive now = heartbeat(report, credential);
        long wait = Math.min(waitMs, maxWaitMs);
        if (wait <= 0 || closing || now.assignment() != null) return CompletableFuture.completedFuture(now);
        String name = report.name();
        CompletableFuture<Void> signal = signals.await(name);
        // Read again after the signal is in place: a claim that committed in between fired before we listened.
        NodeRow node = findNode(name);
        if (node.state() != NodeState.AVAILABLE || node.instanceId() != null) {
            signals.done(name, signal);
            return CompletableFuture.completedFuture(directive(node));
        }
        CompletableFuture<Directive> answer = signal.thenApply(v -> v).completeOnTimeout(null, wait, TimeUnit.MILLISECONDS).thenApplyAsync(v -> {
            signals.done(name, signal);
            // stopping: the database may be gone; the node held nothing and is told so (its next poll goes elsewhere)
            if (closing) return new Directive(null, 0);
            // removed by the operator meanwhile: nothing to do; its next heartbeat hears that it is not registered
            NodeRow now2 = db.read(tx -> nodes.find(tx, name)).orElse(null);
            if (now2 == null) return new Directive(null, 0);
            liveness.heard(name, monotonicMs.getAsLong(), clockMs.getAsLong());
            return directive(now2);
        }, answers);
        held.add(answer);
        answer.whenComplete((d, e) -> held.remove(answer));
        return answer;
    }

    /** Answers every held heartbeat now: called before the HTTP server stops, so none is cut off mid-wait. */
    public void stopHolding() {
        closing = true;
        signals.fireAll();
        try {
            CompletableFuture.allOf(held.toArray(CompletableFuture[]::new)).get(STOP_WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // answered as far as they could be: the server's stop ends the rest
        }
    }

    private NodeRow findNode(String name) {
        return db.read(tx -> nodes.find(tx, name))
                .orElseThrow(() -> ControllerException.notFound("node " + name + " is not registered; register it first"));
    }

    /** The node's agent is heard again after an outage: the node takes the state its report implies. */
    private NodeRow comeBack(NodeRow node, Report report) {
        InstanceRow held = node.instanceId() == null ? null : db.read(tx -> instances.find(tx, node.instanceId())).orElse(null);
        NodeState to;
        if (held != null && held.state() != InstanceState.DELETED) to = held.state().isGoingAway() ? NodeState.SCRUBBING : NodeState.BUSY;
        else to = report.diskClean() && !node.mustScrub() ? NodeState.AVAILABLE : NodeState.SCRUBBING;
        String holder = to == NodeState.AVAILABLE ? null : node.instanceId();
        if (transitions.moveNode(node, to, holder, "node.online", "node " + node.name() + " heard from again: " + to.wire())
                && to == NodeState.AVAILABLE) {
            nodeFreed.run();
        }
        return findNode(node.name());
    }

    private void applyInstanceReport(InstanceRow held, InstanceReport seen, boolean diskClean) {
        long now = clockMs.getAsLong();
        ProgressBoard.Progress p = new ProgressBoard.Progress(seen.bytesOnDemand(), seen.bytesBackground(), seen.fractionLocal(),
                seen.sources() == null ? io.bmcast.fleet.ByteSources.NONE : seen.sources());
        progress.report(held.id(), p, now);
        consoles.append(held.id(), seen.consoleOffset(), seen.console());
        InstanceState phase;
        try {
            phase = InstanceState.fromWire(seen.phase());
        } catch (IllegalArgumentException e) {
            throw ControllerException.invalid("instance " + held.id() + ": " + e.getMessage());
        }
        InstanceState stored = held.state();
        if (phase == stored) return;
        // A failed instance being destroyed: its agent still says "failed" until it has seen the destroy. Its
        // verdict on the scrub comes only after it reported scrubbing, so this "failed" is the old news.
        if (stored == InstanceState.DESTROYING && phase == InstanceState.FAILED) return;
        if (stored.canMoveTo(phase)) {
            String reason = phase == InstanceState.FAILED ? (seen.reason() == null ? "the agent reported a failure" : seen.reason())
                    : stored == InstanceState.FAILED ? recovered(held, phase) : null;
            boolean deleted = phase == InstanceState.DELETED;
            // A deletion's note is the agent's account of its scrub (what ran, how long): for the event, not the row.
            String scrub = deleted && seen.reason() != null ? " (" + seen.reason() + ")" : "";
            // Fully local: where its bytes came from, every chunk verified (an image in the store; NBD images say nothing).
            String sources = phase == InstanceState.DEVIRTUALIZED && seen.sources() != null ? ": " + SourcesNote.of(seen.sources()) : "";
            if (transitions.move(held, phase, reason, diskClean, "instance " + held.id() + " " + phase.wire() + " on node "
                    + held.node() + (reason != null ? ": " + reason : "") + (deleted && !diskClean ? " (disk not yet clean)" : scrub) + sources)) {
                illegalReported.remove(held.id());
                if (stored == InstanceState.SCHEDULED) serialized.taken(held.id());
                if (deleted) {
                    progress.forget(held.id());
                    if (diskClean) nodeFreed.run();
                }
            }
            return;
        }
        if (isCatchingUp(stored, phase)) return;
        // A phase the table forbids (a regression, or a state the controller never asked for): an error to
        // show, once, and nothing applied; the directive still says what the node should do.
        if (!phase.wire().equals(illegalReported.put(held.id(), phase.wire()))) {
            String msg = "node " + held.node() + " reported instance " + held.id() + " " + phase.wire() + ", but it is "
                    + stored.wire() + " and cannot go from " + stored.wire() + " to " + phase.wire() + "; ignored";
            LOG.warning(msg);
            db.read(tx -> events.append(tx, new NewEvent("instance.illegal-transition", held.project(), held.id(), held.node(), msg)));
        }
    }

    /**
     * A failed instance its agent reports running after all: the report wins (see {@link InstanceState}), and the
     * reason keeps the failure, so {@code ps} shows both what is true now and what was believed before.
     */
    private static String recovered(InstanceRow held, InstanceState phase) {
        String was = held.reason() == null ? "no reason given" : held.reason();
        String reason = "recovered: node " + held.node() + " reports it " + phase.wire() + "; it had failed: " + was;
        return reason.length() <= MAX_REASON ? reason : reason.substring(0, MAX_REASON - 3) + "...";
    }

    /**
     * The controller asked for the instance's end (or it failed) and the agent still reports a phase from
     * before it acted on that: normal for a heartbeat or two, not an error.
     */
    private static boolean isCatchingUp(InstanceState stored, InstanceState phase) {
        boolean stale = phase == InstanceState.STARTING || phase == InstanceState.STREAMING || phase == InstanceState.DEVIRTUALIZED
                || phase == InstanceState.STOPPED || phase == InstanceState.SCHEDULED;
        return (stored.isGoingAway() || stored == InstanceState.FAILED) && stale
                || stored == InstanceState.SCRUBBING && phase == InstanceState.DESTROYING;
    }

    /** The node holds an instance but its agent runs nothing. */
    private void applyNothingRuns(NodeRow node, InstanceRow held, boolean diskClean) {
        switch (held.state()) {
            case DESTROYING, SCRUBBING -> {
                // nothing left to power off: the instance is gone once the disk is clean
                if (diskClean && transitions.move(held, InstanceState.DELETED, null, true,
                        "instance " + held.id() + " deleted: node " + node.name() + " holds nothing and its disk is clean")) {
                    progress.forget(held.id());
                    nodeFreed.run();
                }
            }
            case STARTING, STREAMING, DEVIRTUALIZED, STOPPED -> transitions.move(held, InstanceState.FAILED,
                    "the agent on node " + node.name() + " no longer reports this instance", false,
                    "instance " + held.id() + " failed: the agent on node " + node.name() + " no longer reports it");
            default -> {
                // scheduled: the agent has not taken it yet; failed: kept for inspection until destroyed
            }
        }
    }

    /** No instance assigned (or only a deleted one): a clean disk makes the node available, a dirty one not. */
    private void applyFreeNode(NodeRow node, boolean diskClean) {
        if (node.mustScrub()) {
            // A clean report now may predate the operator's order; only one that follows a "not clean" proves a new scrub.
            if (!diskClean) db.transaction(tx -> {
                if (nodes.scrubBegun(tx, node.name(), clockMs.getAsLong())) {
                    events.append(tx, NewEvent.node("node.scrubbing", node.name(), "node " + node.name()
                            + " scrubbing as ordered; it is offered again once its agent reports the disk verified clean"));
                }
                return null;
            });
            return;
        }
        if (diskClean && (node.state() == NodeState.SCRUBBING || node.state() == NodeState.FAILED)) {
            if (transitions.moveNode(node, NodeState.AVAILABLE, null, "node.available",
                    "node " + node.name() + " available: disk scrubbed and verified")) {
                nodeFreed.run();
            }
        } else if (node.state() == NodeState.BUSY) {
            // busy with an instance that is deleted: the node is free once a heartbeat confirms a clean disk
            transitions.moveNode(node, NodeState.SCRUBBING, null, "node.scrubbing",
                    "node " + node.name() + " freed: its instance " + node.instanceId() + " is deleted");
        } else if (!diskClean && node.state() == NodeState.AVAILABLE) {
            transitions.moveNode(node, NodeState.SCRUBBING, null, "node.scrubbing",
                    "node " + node.name() + " reports its disk not clean: scrubbing before it is offered again");
        }
    }

    private Directive directive(NodeRow node) {
        if (node.mustScrub()) return new Directive(null, 0, true);
        if (node.instanceId() == null) return new Directive(null, 0);
        InstanceRow inst = db.read(tx -> instances.find(tx, node.instanceId())).orElse(null);
        if (inst == null || inst.state() == InstanceState.DELETED || inst.state() == InstanceState.PENDING) return new Directive(null, 0);
        String desired = inst.state().isGoingAway() ? AgentProtocol.DESIRED_DELETED : AgentProtocol.DESIRED_RUNNING;
        // Members only while the agent may still start it (it reads them then): no query on a running node's heartbeats.
        Tracker t = tracker;
        Tracker.Members m = t != null && (inst.state() == InstanceState.SCHEDULED || inst.state() == InstanceState.STARTING)
                ? t.membersFor(inst.image(), node.name()) : null;
        return new Directive(new AgentProtocol.Assignment(inst.id(), desired, images.spec(inst.image()), m == null ? null : m.peers(),
                m == null ? null : m.complete()), consoles.held(inst.id()));
    }
}
