package io.bmcast.controller;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Node credentials: 256 random bits each, issued once at a node's first registration. Only the SHA-256 is stored
 * (as with bearer tokens: a plain hash suffices for a secret this random, and a copy of the database speaks for no
 * node).
 */
final class NodeCredentials {
    private static final SecureRandom RANDOM = new SecureRandom();

    private NodeCredentials() {}

    static String issue() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return "bmn_" + HexFormat.of().formatHex(b);
    }

    static String hash(String credential) {
        return AccessTokens.hash(credential.strip());
    }

    /** Whether {@code credential} is the one whose hash is stored; in time independent of where they differ. */
    static boolean matches(String credential, String storedHash) {
        if (credential == null || credential.isBlank() || storedHash == null) return false;
        return MessageDigest.isEqual(hash(credential).getBytes(StandardCharsets.US_ASCII), storedHash.getBytes(StandardCharsets.US_ASCII));
    }
}
