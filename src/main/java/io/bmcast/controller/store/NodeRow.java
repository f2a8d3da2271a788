package io.bmcast.controller.store;

import io.bmcast.fleet.NodeState;

/** A node as stored. {@code instanceId} is the instance holding it, or null. Times are epoch milliseconds. */
public record NodeRow(String name, NodeState state, long diskBytes, long memoryBytes, int cpus, String accel,
        boolean simulated, String instanceId, long registeredAt, long updatedAt) {}
