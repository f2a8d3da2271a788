package io.bmcast.instance;

import io.bmcast.vmm.Qemu;
import java.io.IOException;
import java.time.Duration;

/** Watches the guest console for the ready marker and records when it appeared. */
final class ReadyWatch {
    private volatile double readyAt = -1;

    static ReadyWatch start(Qemu qemu, String marker, EventLog events) {
        ReadyWatch w = new ReadyWatch();
        if (marker == null || marker.isEmpty()) return w;
        Thread.ofVirtual().name("ready-watch").start(() -> {
            try {
                qemu.console().await(marker, Duration.ofHours(24));
                w.readyAt = events.secondsSinceStart();
                events.emit("guest-ready", "marker", marker);
            } catch (IOException e) {
                // console closed: the guest exited before it was ready
            }
        });
        return w;
    }

    double readyAt() {
        return readyAt;
    }
}
