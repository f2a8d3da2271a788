package io.bmcast.controller.store;

import io.bmcast.fleet.NodeState;

/**
 * A node as stored. {@code instanceId} is the instance holding it, or null. Times are epoch milliseconds.
 * {@code maintenance} and {@code mustScrub} are the operator's flags (see {@link NodeState}).
 */
public record NodeRow(String name, NodeState state, long diskBytes, long memoryBytes, int cpus, String accel,
        boolean simulated, String instanceId, long registeredAt, long updatedAt, boolean maintenance, boolean mustScrub) {

    /** A node as it registers: no operator flag set. */
    public NodeRow(String name, NodeState state, long diskBytes, long memoryBytes, int cpus, String accel,
            boolean simulated, String instanceId, long registeredAt, long updatedAt) {
        this(name, state, diskBytes, memoryBytes, cpus, accel, simulated, instanceId, registeredAt, updatedAt, false, false);
    }
}
