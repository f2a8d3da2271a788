package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Hollow nodes, as Kubernetes' kubemark runs them: N agents in one process that speak the real protocol and go
 * through the real states with scripted timings ({@link HollowTimeline}), without QEMU or a disk, so that the
 * control plane can be driven at a thousand nodes on one machine.
 *
 * <p>What makes a thousand cheap: one HTTP client and one two-thread scheduler for all of them, requests sent
 * asynchronously (no thread waits on the network), a few dozen bytes of state per node, and heartbeats spread
 * by jitter so they do not arrive at the controller in one wave.
 */
public final class HollowFleet implements AutoCloseable {
    /**
     * Requests in flight at once, all nodes together, so that a launch of 1000 does not send 1000 reports at once.
     * Idle nodes' long-polls are not counted: each holds a connection while it waits, but asks the controller for
     * no work until it is answered (see {@link HollowNode}).
     */
    static final int MAX_IN_FLIGHT = 64;
    /** First registrations are spread over this long, as machines powering on would be. */
    static final long REGISTER_SPREAD_NS = 1_000_000_000L;

    /** @param diskBytes what each hollow node declares as its disk */
    public record Options(String name, int count, long diskBytes, long memoryBytes, int cpus, HollowTimeline timeline) {}

    final ControllerClient client;
    final ScheduledExecutorService scheduler;
    final HollowTimeline timeline;
    final Options options;
    final Reachability reachability;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final List<HollowNode> nodes = new ArrayList<>();
    private volatile boolean closed;
    /** Where each node's credential is kept ({@code DIR/NAME/node.credential}), or null: in memory only. */
    private volatile java.nio.file.Path credentialDir;
    private final java.util.concurrent.atomic.AtomicInteger refusedCount = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.CompletableFuture<String> allRefused = new java.util.concurrent.CompletableFuture<>();

    /** @param client shared with whoever else talks to the same controller; the caller closes its HTTP client */
    public HollowFleet(ControllerClient client, Options options) {
        this.client = client;
        this.options = options;
        this.timeline = options.timeline();
        this.reachability = new Reachability("hollow nodes " + options.name() + (options.count() > 1 ? "-*" : ""));
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(2, Thread.ofPlatform().name("hollow-", 0).daemon().factory());
        // Cancelled heartbeats (a state change moved one earlier) must not pile up in the queue.
        s.setRemoveOnCancelPolicy(true);
        this.scheduler = s;
        for (int i = 1; i <= options.count(); i++) {
            String n = options.count() == 1 ? options.name() : String.format("%s-%04d", options.name(), i);
            nodes.add(new HollowNode(n, this));
        }
    }

    /**
     * Keeps the nodes' credentials in {@code dir} (one 0600 file per node, DIR/NAME/node.credential), so that the same fleet started again
     * speaks for the same names; without it they live in memory, and a restarted fleet is refused its names until
     * an operator frees them. Call before {@link #start()}.
     */
    public HollowFleet keepCredentialsIn(java.nio.file.Path dir) throws java.io.IOException {
        this.credentialDir = java.nio.file.Files.createDirectories(dir);
        return this;
    }

    /** The credential kept for {@code name}, or null. */
    String credential(String name) {
        java.nio.file.Path dir = credentialDir;
        if (dir == null) return null;
        try {
            return NodeCredential.load(dir.resolve(name));
        } catch (java.io.IOException e) {
            System.getLogger("io.bmcast.agent").log(Level.WARNING, "hollow node " + name + ": cannot read its credential: " + e.getMessage());
            return null;
        }
    }

    void keepCredential(String name, String credential) {
        java.nio.file.Path dir = credentialDir;
        if (dir == null) return;
        try {
            java.nio.file.Files.createDirectories(dir.resolve(name));
            NodeCredential.save(dir.resolve(name), credential);
        } catch (java.io.IOException e) {
            System.getLogger("io.bmcast.agent").log(Level.WARNING, "hollow node " + name + ": cannot keep its credential: " + e.getMessage());
        }
    }

    /** A node refused its name: it stops; the fleet says so once per node. */
    void refused(String name, String why) {
        System.getLogger("io.bmcast.agent").log(Level.ERROR, "hollow node " + name + " stopped: " + why);
        if (refusedCount.incrementAndGet() == nodes.size()) allRefused.complete(why);
    }

    /** Completes (with the last reason) when every node was refused its name: the fleet has nothing left to do. */
    public java.util.concurrent.CompletableFuture<String> allRefused() {
        return allRefused;
    }

    /** How many nodes were refused their names and stopped. */
    public int refused() {
        return refusedCount.get();
    }

    public HollowFleet start() {
        for (HollowNode n : nodes) {
            long delay = nodes.size() == 1 ? 0 : ThreadLocalRandom.current().nextLong(REGISTER_SPREAD_NS);
            n.scheduleAt(System.nanoTime() + delay);
        }
        System.getLogger("io.bmcast.agent").log(Level.INFO, "hollow nodes: " + nodes.size() + " node(s) " + nodes.getFirst().name
                + (nodes.size() > 1 ? ".." + nodes.getLast().name : "") + " joining " + client.base());
        return this;
    }

    public List<String> names() {
        return nodes.stream().map(n -> n.name).toList();
    }

    /** How many nodes have registered so far. */
    public int registered() {
        return (int) nodes.stream().filter(HollowNode::isRegistered).count();
    }

    boolean tryAcquire() {
        if (inFlight.incrementAndGet() <= MAX_IN_FLIGHT) return true;
        inFlight.decrementAndGet();
        return false;
    }

    void release() {
        inFlight.decrementAndGet();
    }

    boolean closed() {
        return closed;
    }

    AgentProtocol.Hello hello(String name) {
        return new AgentProtocol.Hello(name, options.diskBytes(), options.memoryBytes(), options.cpus(), "none", true);
    }

    @Override
    public void close() {
        closed = true;
        scheduler.shutdownNow();
        try {
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
