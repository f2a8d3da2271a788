package io.bmcast.protocol;

import java.io.IOException;

/**
 * The peer broke the protocol (bad magic, impossible length, unexpected reply): the connection cannot
 * continue and is closed. The message names what was wrong and where.
 */
public class ProtocolException extends IOException {
    public ProtocolException(String message) {
        super(message);
    }
}
