package io.bmcast.instance;

import io.bmcast.vmm.Qemu;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** Watches the guest console for the ready marker and records when it appeared. */
final class ReadyWatch {
    private volatile double readyAt = -1;

    /** {@code ready} completes with the time the marker appeared (seconds since start), or exceptionally when it never will. */
    static ReadyWatch start(Qemu qemu, String marker, EventLog events, CompletableFuture<Double> ready) {
        ReadyWatch w = new ReadyWatch();
        if (marker == null || marker.isEmpty()) {
            ready.completeExceptionally(new IllegalStateException("no ready marker to watch for"));
            return w;
        }
        Thread.ofVirtual().name("ready-watch").start(() -> {
            try {
                qemu.console().await(marker, Duration.ofHours(24));
                w.readyAt = events.secondsSinceStart();
                events.emit("guest-ready", "marker", marker);
                ready.complete(w.readyAt);
            } catch (IOException e) {
                // console closed: the guest exited before it was ready
                ready.completeExceptionally(e);
            }
        });
        return w;
    }

    double readyAt() {
        return readyAt;
    }
}
