package io.bmcast.controller;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One wake-up per idle node whose agent is long-polling: the scheduler fires a node's signal once the claim that
 * gave it an instance has committed, and the held heartbeat answers at once instead of at the end of its wait.
 *
 * <p>A signal carries no data: whoever wakes reads the node again. So a signal fired with nobody waiting, or a
 * waiter that times out just as it fires, loses nothing: the next heartbeat reads the same rows.
 */
final class NodeSignals {
    /** Node name to the signal its held heartbeat waits on; at most one per node, so at most one per known node. */
    private final ConcurrentHashMap<String, CompletableFuture<Void>> waiting = new ConcurrentHashMap<>();

    /** The signal for {@code node}: a new one, or the one a previous poll of the same node still waits on. */
    CompletableFuture<Void> await(String node) {
        return waiting.compute(node, (n, f) -> f == null || f.isDone() ? new CompletableFuture<>() : f);
    }

    /** Wakes whoever waits for {@code node} (nobody, usually: then it costs one map lookup). */
    void fire(String node) {
        CompletableFuture<Void> f = waiting.remove(node);
        if (f != null) f.complete(null);
    }

    /** Wakes every waiter (the controller is stopping: held heartbeats are answered before the server goes). */
    void fireAll() {
        for (String node : waiting.keySet()) fire(node);
    }

    /** Drops the signal a timed-out waiter leaves behind, unless a newer poll has replaced it. */
    void done(String node, CompletableFuture<Void> signal) {
        waiting.remove(node, signal);
    }
}
