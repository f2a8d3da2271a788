package io.bmcast.controller;

/**
 * Which stored token a caller presented: its public id, the token it was made from (a dashboard session's;
 * null otherwise) and when it expires ({@link Long#MAX_VALUE}: never). What a long-lived call (an event
 * stream) needs to end when its token is revoked or runs out.
 */
public record Credential(String tokenId, String parentId, long expiresAtMs) {
    public boolean expired(long nowMs) {
        return nowMs >= expiresAtMs;
    }

    /** Whether revoking token {@code id} ends this credential: it is that token, or a session made from it. */
    public boolean revokedWith(String id) {
        return id.equals(tokenId) || id.equals(parentId);
    }
}
