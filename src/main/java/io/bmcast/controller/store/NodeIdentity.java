package io.bmcast.controller.store;

/**
 * Who a node is: the SHA-256 (hex) of its credential, null for a node registered before credentials existed
 * (unclaimed), and the sequence number of the last report applied for it.
 */
public record NodeIdentity(String name, String credentialHash, long lastSeq) {}
