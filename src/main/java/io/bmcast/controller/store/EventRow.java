package io.bmcast.controller.store;

/** An appended event; {@code atMs} is epoch milliseconds. */
public record EventRow(long id, long atMs, String type, String project, String instanceId, String node, String message) {}
