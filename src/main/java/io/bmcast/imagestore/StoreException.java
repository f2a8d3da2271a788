package io.bmcast.imagestore;

import java.io.IOException;

/**
 * The store failed, said in one sentence a person can act on (never the SDK's exception text alone).
 * {@code permanent}: asking again will not help (wrong credentials, no such bucket, a missing chunk); otherwise it
 * may (unreachable, throttled, a server error).
 */
public final class StoreException extends IOException {
    private final boolean permanent;

    public StoreException(String message, boolean permanent, Throwable cause) {
        super(message, cause);
        this.permanent = permanent;
    }

    public boolean permanent() {
        return permanent;
    }
}
