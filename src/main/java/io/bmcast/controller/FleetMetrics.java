package io.bmcast.controller;

import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The controller's numbers: Prometheus counters and gauges at {@code /metrics}, and the one-minute windows
 * the dashboard's summary shows (launches and destroys per minute, bytes per second fetched by instances).
 */
public final class FleetMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter launches;
    private final Counter destroys;
    private final Counter heartbeats;
    private final RateWindow launchWindow = new RateWindow(60);
    private final RateWindow destroyWindow = new RateWindow(60);
    private final RateWindow bytesWindow = new RateWindow(60);
    /** Counts by state as the reconciler last read them; gauges read this snapshot, never the database. */
    private final AtomicReference<Map<NodeState, Integer>> nodes = new AtomicReference<>(new EnumMap<>(NodeState.class));
    private final AtomicReference<Map<InstanceState, Integer>> instances = new AtomicReference<>(new EnumMap<>(InstanceState.class));

    public FleetMetrics() {
        launches = Counter.builder("bmcast.launches").description("instances launched").register(registry);
        destroys = Counter.builder("bmcast.destroys").description("instances whose destroy was requested").register(registry);
        heartbeats = Counter.builder("bmcast.heartbeats").description("agent heartbeats received").register(registry);
        for (NodeState s : NodeState.values()) {
            Gauge.builder("bmcast.nodes", () -> nodes.get().getOrDefault(s, 0)).tag("state", s.wire())
                    .description("nodes by state").register(registry);
        }
        for (InstanceState s : InstanceState.values()) {
            if (s == InstanceState.DELETED) continue;
            Gauge.builder("bmcast.instances", () -> instances.get().getOrDefault(s, 0)).tag("state", s.wire())
                    .description("instances by state (unknown: on an offline node)").register(registry);
        }
    }

    void launched(int count, long nowMs) {
        launches.increment(count);
        launchWindow.add(nowMs, count);
    }

    void destroyed(long nowMs) {
        destroys.increment();
        destroyWindow.add(nowMs, 1);
    }

    void heartbeat() {
        heartbeats.increment();
    }

    RateWindow bytesFetched() {
        return bytesWindow;
    }

    void counts(Map<NodeState, Integer> nodeCounts, Map<InstanceState, Integer> instanceCounts) {
        nodes.set(nodeCounts);
        instances.set(instanceCounts);
    }

    /** One API call's latency, by its route template (not its path: ids would make a series each). */
    /** A gauge of how many {@code what} the controller holds in memory (bounded by {@link Retention}). */
    public void tracked(String what, java.util.function.Supplier<Number> size) {
        Gauge.builder("bmcast.controller.tracked", size).tag("what", what)
                .description("entries the controller holds in memory, by kind").register(registry);
    }

    public void apiCall(String method, String route, int status, long nanos) {
        Timer.builder("bmcast.api.requests").description("API latency").tag("method", method).tag("route", route)
                .tag("status", Integer.toString(status)).register(registry).record(nanos, TimeUnit.NANOSECONDS);
    }

    double launchesPerMinute(long nowMs) {
        return launchWindow.sum(nowMs, 60);
    }

    double destroysPerMinute(long nowMs) {
        return destroyWindow.sum(nowMs, 60);
    }

    /** Bytes per second over the last ten seconds (the current, partial, second included). */
    double bytesPerSecond(long nowMs) {
        return bytesWindow.sum(nowMs, 10) / 10.0;
    }

    public String scrape() {
        return registry.scrape();
    }
}
