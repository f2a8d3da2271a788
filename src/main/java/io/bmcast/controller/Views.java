package io.bmcast.controller;

import io.bmcast.controller.store.EventRow;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import java.time.Instant;

/** Stored rows as the API shows them. */
final class Views {
    private Views() {}

    static String time(long epochMs) {
        return Instant.ofEpochMilli(epochMs).toString();
    }

    /**
     * An instance whose node stopped heartbeating is {@code unknown}: nobody knows whether its guest still
     * runs, so it is never shown as running.
     */
    static Api.Instance instance(InstanceRow r, ProgressBoard board) {
        String stored = r.state().wire();
        String shown = r.state().holdsNode() && r.nodeState() == NodeState.OFFLINE ? InstanceState.UNKNOWN.wire() : stored;
        ProgressBoard.Progress p = board.latest(r.id())
                .orElse(new ProgressBoard.Progress(r.bytesOnDemand(), r.bytesBackground(), r.fractionLocal(), r.sources()));
        var s = p.sources();
        return new Api.Instance(r.id(), r.project(), r.image(), r.node(), shown, stored, r.reason(), p.bytesOnDemand(),
                p.bytesBackground(), p.fractionLocal(), time(r.createdAt()), time(r.updatedAt()), s.bytesFromCache(),
                s.bytesFromPeers(), s.bytesFromStore(), s.chunksVerified(), s.chunksRejected());
    }

    static Api.Event event(EventRow e) {
        return new Api.Event(e.id(), time(e.atMs()), e.type(), e.project(), e.instanceId(), e.node(), e.message());
    }
}
