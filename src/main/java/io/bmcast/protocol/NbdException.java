package io.bmcast.protocol;

import java.io.IOException;

/**
 * A failed NBD operation carrying the protocol error code ({@link Nbd#EIO}, {@link Nbd#EINVAL}...) that
 * the server puts on the wire or the client received from it.
 */
public class NbdException extends IOException {
    private final int error;

    public NbdException(int error, String message) {
        super(message);
        this.error = error;
    }

    public NbdException(int error, String message, Throwable cause) {
        super(message, cause);
        this.error = error;
    }

    /** The NBD error code (never 0). */
    public int error() {
        return error;
    }
}
