package io.bmcast.bench;

import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * When each instance and node reached each state, as the controller stamped it: the controller's live event
 * stream (server-sent events), followed from just before the benchmark's first request. Times are the
 * controller's commit times in epoch milliseconds; the controller runs in this JVM, so they compare directly
 * with {@link System#currentTimeMillis()} taken by the benchmark when it sent a request.
 *
 * <p>The live stream rather than pages of {@code GET /events}: on PostgreSQL an event id taken early may commit
 * after a later one, and a reader paging "after the last id it saw" could skip it for ever; the stream may not.
 */
final class FleetEvents implements AutoCloseable {
    /** Instance id, then event type ({@code instance.streaming}), then the first time it happened. */
    private final Map<String, Map<String, Long>> instances = new ConcurrentHashMap<>();
    /** Node name to the last time it became {@code available}. */
    private final Map<String, Long> available = new ConcurrentHashMap<>();
    private final Thread reader;
    private volatile IOException failure;
    private volatile boolean closed;

    private FleetEvents(OperatorClient api, long afterId) {
        this.reader = Thread.ofVirtual().name("bench-events").start(() -> follow(api, afterId));
    }

    /** Follows every event committed after the newest one now. */
    static FleetEvents follow(OperatorClient api) throws IOException, InterruptedException {
        return new FleetEvents(api, api.latestEventId());
    }

    private void follow(OperatorClient api, long afterId) {
        try {
            var req = api.request("/api/v1/events/stream").timeout(java.time.Duration.ofDays(1))
                    .header("Accept", "text/event-stream").header("Last-Event-ID", Long.toString(afterId)).GET().build();
            HttpResponse<Stream<String>> res = api.http.send(req, HttpResponse.BodyHandlers.ofLines());
            if (res.statusCode() != 200) throw new IOException("event stream: HTTP " + res.statusCode());
            try (Stream<String> lines = res.body()) {
                lines.forEach(line -> {
                    if (line.startsWith("data: ")) record(line.substring(6));
                });
            }
        } catch (IOException e) {
            if (!closed) failure = e;
        } catch (java.io.UncheckedIOException e) {
            if (!closed) failure = e.getCause();
        } catch (InterruptedException e) {
            // closing
        }
    }

    private void record(String json) {
        Api.Event e;
        try {
            e = Jackson.MAPPER.readValue(json, Api.Event.class);
        } catch (IOException bad) {
            return;
        }
        long at = Instant.parse(e.at()).toEpochMilli();
        if (e.instanceId() != null && e.type().startsWith("instance.")) {
            instances.computeIfAbsent(e.instanceId(), k -> new ConcurrentHashMap<>()).putIfAbsent(e.type(), at);
        } else if (e.type().equals("node.available") && e.node() != null) {
            available.put(e.node(), at);
        }
    }

    /** The first time {@code id} had an event of any of {@code types}, or -1. */
    long first(String id, String... types) {
        Map<String, Long> m = instances.get(id);
        if (m == null) return -1;
        long best = -1;
        for (String t : types) {
            Long at = m.get(t);
            if (at != null && (best < 0 || at < best)) best = at;
        }
        return best;
    }

    /** When {@code node} last became available, or -1. */
    long availableAt(String node) {
        return available.getOrDefault(node, -1L);
    }

    /** True once every one of {@code ids} had one of {@code types}. */
    boolean all(Collection<String> ids, String... types) throws IOException {
        if (failure != null) throw new IOException("the controller's event stream broke: " + failure.getMessage(), failure);
        for (String id : ids) if (first(id, types) < 0) return false;
        return true;
    }

    /** How many of {@code ids} had one of {@code types}. */
    int count(Collection<String> ids, String... types) {
        int n = 0;
        for (String id : ids) if (first(id, types) >= 0) n++;
        return n;
    }

    @Override
    public void close() {
        closed = true;
        reader.interrupt();
    }
}
