package io.bmcast.transport;

import java.io.IOException;

/**
 * TLS could not be set up with the peer: its certificate does not verify, it refused ours, or it spoke no
 * TLS. Never followed by plaintext; a caller that retries lost connections should treat it as a refusal,
 * not as a server that is away.
 */
public final class TlsHandshakeException extends IOException {
    TlsHandshakeException(String message, Throwable cause) {
        super(message, cause);
    }
}
