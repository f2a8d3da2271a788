package io.bmcast.mediator;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;

/**
 * The local disk has no room for a write: not the image server's fault, and not a reason to give up. The guest's
 * write gets {@code ENOSPC} (QEMU then pauses the guest and retries it when resumed), the background copy waits
 * for space, and no region whose bytes could not be stored becomes PRESENT.
 */
public final class LocalDiskFull extends NbdException {
    public LocalDiskFull(String message, Throwable cause) {
        super(Nbd.ENOSPC, message, cause);
    }
}
