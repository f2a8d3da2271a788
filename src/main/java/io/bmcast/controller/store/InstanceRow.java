package io.bmcast.controller.store;

import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;

/**
 * An instance as stored, with the state of the node it is on ({@code nodeState}, null when it has none):
 * the API shows an instance whose node is offline as {@code unknown}. {@code sources}: where its bytes came from.
 */
public record InstanceRow(String id, String project, String image, String node, InstanceState state, String reason,
        long bytesOnDemand, long bytesBackground, double fractionLocal, long createdAt, long updatedAt,
        NodeState nodeState, io.bmcast.fleet.ByteSources sources) {}
