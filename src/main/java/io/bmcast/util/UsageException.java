package io.bmcast.util;

/** A command line that cannot be run as written; the message says what is wrong. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message);
    }
}
