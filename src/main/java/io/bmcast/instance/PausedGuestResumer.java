package io.bmcast.instance;

import io.bmcast.vmm.Qemu;
import java.io.IOException;
import java.util.Map;

/**
 * Resumes a guest that QEMU paused on a write it could not store. The mediator answers such a write with ENOSPC
 * when the local disk is full; QEMU's virtio-blk (and SCSI, IDE) devices default to {@code werror=enospc}: on ENOSPC
 * they pause the guest (status {@code io-error}) instead of failing its write, and retry the write on {@code cont}.
 * Every few seconds this asks again: once space is freed the write succeeds and the guest goes on; while the
 * disk is still full, QEMU pauses it again. (QEMU 7.2's NVMe device has no {@code werror}: there the guest sees
 * a write error.)
 */
final class PausedGuestResumer {
    private static final long EVERY_NS = 2_000_000_000L;

    private final Qemu qemu;
    private final EventLog events;
    private long nextNs;
    private boolean paused;

    PausedGuestResumer(Qemu qemu, EventLog events) {
        this.qemu = qemu;
        this.events = events;
    }

    /** Called from the instance's loop with the time now. */
    void poll(long nowNs) {
        if (nowNs - nextNs < 0) return;
        nextNs = nowNs + EVERY_NS;
        try {
            Object status = qemu.qmp().execute("query-status", Map.of());
            boolean ioError = status instanceof Map<?, ?> m && "io-error".equals(m.get("status"));
            if (!ioError) {
                if (paused) events.emit("guest-resumed");
                paused = false;
                return;
            }
            if (!paused) events.emit("guest-paused", "reason", "a write could not be stored (local disk full)");
            paused = true;
            qemu.qmp().execute("cont", Map.of());
        } catch (IOException e) {
            // QEMU is going away: the instance's loop sees it exit.
        }
    }
}
