package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.NodeRow;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/** The read side for people: nodes as listed, and the dashboard's counts and rates. */
public final class FleetSummary {
    private final Database db;
    private final NodeRepository nodes;
    private final InstanceRepository instances;
    private final Liveness liveness;
    private final FleetMetrics metrics;
    private final LongSupplier clockMs;

    FleetSummary(Database db, NodeRepository nodes, InstanceRepository instances, Liveness liveness, FleetMetrics metrics,
            LongSupplier clockMs) {
        this.db = db;
        this.nodes = nodes;
        this.instances = instances;
        this.liveness = liveness;
        this.metrics = metrics;
        this.clockMs = clockMs;
    }

    public List<Api.Node> nodes() {
        return db.read(nodes::list).stream().map(this::view).toList();
    }

    private Api.Node view(NodeRow n) {
        var beat = liveness.lastHeartbeat(n.name());
        return new Api.Node(n.name(), n.state().wire(), n.diskBytes(), n.memoryBytes(), n.cpus(), n.accel(), n.simulated(),
                n.instanceId(), beat.isPresent() ? Views.time(beat.getAsLong()) : null, Views.time(n.registeredAt()), n.maintenance(),
                n.mustScrub());
    }

    /** Counts by state (a project's instances only, for a project) and the last minute's rates. */
    public Api.Summary summary(Principal who) {
        Map<NodeState, Integer> nodeCounts = db.read(nodes::countByState);
        Map<InstanceState, Integer> instanceCounts = db.read(tx -> instances.countByShownState(tx, who.projectFilter()));
        Map<String, Integer> n = new LinkedHashMap<>();
        nodeCounts.forEach((s, c) -> n.put(s.wire(), c));
        Map<String, Integer> i = new LinkedHashMap<>();
        instanceCounts.forEach((s, c) -> i.put(s.wire(), c));
        long now = clockMs.getAsLong();
        return new Api.Summary(n, i, metrics.launchesPerMinute(now), metrics.destroysPerMinute(now), metrics.bytesPerSecond(now));
    }
}
