package io.bmcast.bench;

import io.bmcast.agent.ControllerClient;
import io.bmcast.agent.HollowFleet;
import io.bmcast.agent.HollowTimeline;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.Api;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * One controller (on one database, in one mode) with a fleet of hollow nodes in this JVM, ready for launches:
 * every node registered and {@code available}, one small image added. {@link #launch} launches N at once, waits
 * for all of them to run, destroys them and waits for their nodes to be available again.
 */
final class HollowRun implements AutoCloseable {
    static final String IMAGE = "hollow";
    static final String[] RUNNING = {"instance.streaming", "instance.devirtualized", "instance.stopped"};
    /** How long a fleet may take to register and be offered. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    /** A launch or destroy that takes longer than this says how far it got, this often. */
    static final long PROGRESS_MS = 5000;

    private final String db;
    private final boolean serialized;
    private final Controller controller;
    private final HttpClient agentHttp;
    private final HollowFleet fleet;
    private final OperatorClient api;
    private final FleetEvents events;
    private final Consumer<String> progress;

    private HollowRun(String db, boolean serialized, Controller controller, HttpClient agentHttp, HollowFleet fleet,
            OperatorClient api, FleetEvents events, Consumer<String> progress) {
        this.progress = progress;
        this.db = db;
        this.serialized = serialized;
        this.controller = controller;
        this.agentHttp = agentHttp;
        this.fleet = fleet;
        this.api = api;
        this.events = events;
    }

    /**
     * @param jdbcUrl null for H2 under {@code dir}
     * @param requestTimeout how long one launch request may take (serialized launches queue for long)
     */
    static HollowRun start(String db, String jdbcUrl, boolean serialized, int nodes, HollowTimeline timeline, Path dir,
            String imageUri, Duration requestTimeout, Consumer<String> progress) throws IOException, InterruptedException {
        ControllerConfig config = ControllerConfig.defaults(dir).withJdbcUrl(jdbcUrl).withSerialized(serialized);
        Controller controller = Controller.start(config);
        HttpClient agentHttp = ControllerClient.sharedHttp();
        OperatorClient api = new OperatorClient(controller.url(), controller.adminToken(), requestTimeout);
        HollowFleet fleet = null;
        try {
            api.addImage(IMAGE, imageUri);
            fleet = new HollowFleet(new ControllerClient(URI.create(controller.url()), controller.joinToken(), agentHttp),
                    new HollowFleet.Options("hollow", nodes, 32L << 30, 512L << 20, 2, timeline)).start();
            awaitAvailable(api, nodes);
            return new HollowRun(db, serialized, controller, agentHttp, fleet, api, FleetEvents.follow(api), progress);
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (fleet != null) fleet.close();
            api.close();
            agentHttp.shutdownNow();
            controller.close();
            throw e;
        }
    }

    private static void awaitAvailable(OperatorClient api, int nodes) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        long available = 0;
        while (System.nanoTime() < deadline) {
            available = api.nodes().stream().filter(n -> "available".equals(n.state())).count();
            if (available == nodes) return;
            Thread.sleep(200);
        }
        throw new IOException("only " + available + " of " + nodes + " hollow nodes available after " + READY_TIMEOUT.toSeconds() + " s");
    }

    /**
     * Launches {@code n} at once ({@code oneRequest}: as one request for {@code n}, else as {@code n} concurrent
     * requests for one each), waits until all run or {@code timeBox} passed, then destroys them all at once and
     * waits until their nodes are available. A launch that ran out of time leaves the fleet unusable: the caller
     * closes this run.
     */
    LaunchSample launch(int n, boolean oneRequest, int round, Duration timeBox) throws IOException, InterruptedException {
        String mode = serialized ? "serialized" : "parallel";
        String style = oneRequest ? "count" : "requests";
        Map<String, Long> requestedAt = new ConcurrentHashMap<>();
        AtomicReference<Exception> failed = new AtomicReference<>();
        long deadlineMs = System.currentTimeMillis() + timeBox.toMillis();
        CountDownLatch go = new CountDownLatch(1);
        int requests = oneRequest ? 1 : n;
        CountDownLatch answered = new CountDownLatch(requests);
        List<Thread> clients = new ArrayList<>(requests);
        for (int i = 0; i < requests; i++) {
            clients.add(Thread.ofVirtual().name("bench-tenant-" + i).start(() -> {
                try {
                    go.await();
                    long at = System.currentTimeMillis();
                    for (Api.Instance inst : api.launch(IMAGE, oneRequest ? n : 1)) requestedAt.put(inst.id(), at);
                } catch (Exception e) {
                    failed.compareAndSet(null, e);
                } finally {
                    answered.countDown();
                }
            }));
        }
        double[] beats0 = api.heartbeatTotals();
        long t0 = System.currentTimeMillis();
        go.countDown();
        boolean allAnswered;
        while (!(allAnswered = answered.await(Math.clamp(deadlineMs - System.currentTimeMillis(), 0, PROGRESS_MS), TimeUnit.MILLISECONDS))
                && System.currentTimeMillis() < deadlineMs) {
            progress.accept(String.format(java.util.Locale.ROOT, "%.0f s: %d of %d launch requests answered, %d of %d instances running",
                    (System.currentTimeMillis() - t0) / 1000.0, requests - answered.getCount(), requests,
                    events.count(requestedAt.keySet(), RUNNING), n));
        }
        if (failed.get() != null && allAnswered) throw new IOException("a launch failed: " + failed.get().getMessage(), failed.get());
        boolean allRunning = allAnswered && awaitEvents(requestedAt.keySet(), deadlineMs, RUNNING);
        if (!allRunning) {
            clients.forEach(Thread::interrupt);
            return new LaunchSample(db, mode, style, n, round, -1, timeBox.toMillis() / 1000.0, Double.NaN, Double.NaN,
                    Double.NaN, Double.NaN, Double.NaN, -1);
        }
        long lastRunning = 0;
        double[] scheduled = new double[n];
        double[] running = new double[n];
        double[] taken = new double[n];
        int i = 0;
        for (var e : requestedAt.entrySet()) {
            long run = events.first(e.getKey(), RUNNING);
            lastRunning = Math.max(lastRunning, run);
            long sched = events.first(e.getKey(), "instance.scheduled");
            scheduled[i] = (sched - e.getValue()) / 1000.0;
            long take = events.first(e.getKey(), "instance.starting");
            taken[i] = ((take < 0 ? run : take) - e.getValue()) / 1000.0;
            running[i++] = (run - e.getValue()) / 1000.0;
        }
        double[] beats1 = api.heartbeatTotals();
        double heartbeatMs = beats1[0] > beats0[0] ? 1000 * (beats1[1] - beats0[1]) / (beats1[0] - beats0[0]) : Double.NaN;
        progress.accept(String.format(java.util.Locale.ROOT, "controller: %.0f heartbeats answered in %.1f s, mean %.1f ms each",
                beats1[0] - beats0[0], (System.currentTimeMillis() - t0) / 1000.0, heartbeatMs));
        double destroy = destroyAll(requestedAt.keySet(), timeBox);
        return new LaunchSample(db, mode, style, n, round, (lastRunning - t0) / 1000.0, timeBox.toMillis() / 1000.0,
                percentile(scheduled, 50), percentile(scheduled, 99), percentile(taken, 99), percentile(running, 50), percentile(running, 99), destroy);
    }

    /** Destroys every one of {@code ids} at once; seconds from the first request to the last node available. */
    private double destroyAll(Collection<String> ids, Duration timeBox) throws IOException, InterruptedException {
        Map<String, String> nodeOf = new HashMap<>();
        for (Api.Instance i : api.instances()) if (ids.contains(i.id())) nodeOf.put(i.id(), i.node());
        AtomicReference<Exception> failed = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(ids.size());
        long t0 = System.currentTimeMillis();
        for (String id : ids) {
            Thread.ofVirtual().start(() -> {
                try {
                    api.destroy(id);
                } catch (Exception e) {
                    failed.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            });
        }
        long deadline = t0 + Math.max(timeBox.toMillis(), 60_000);
        if (!done.await(deadline - System.currentTimeMillis(), TimeUnit.MILLISECONDS)) throw new IOException("destroy requests unanswered");
        if (failed.get() != null) throw new IOException("a destroy failed: " + failed.get().getMessage(), failed.get());
        long last = 0;
        while (true) {
            boolean all = true;
            last = 0;
            for (String node : nodeOf.values()) {
                long at = events.availableAt(node);
                if (at < t0) {
                    all = false;
                    break;
                }
                last = Math.max(last, at);
            }
            if (all) return (last - t0) / 1000.0;
            if (System.currentTimeMillis() > deadline) {
                throw new IOException("nodes not available again " + (deadline - t0) / 1000 + " s after the destroy");
            }
            Thread.sleep(20);
        }
    }

    private boolean awaitEvents(Collection<String> ids, long deadlineMs, String... types) throws IOException, InterruptedException {
        long t0 = System.currentTimeMillis(), shown = t0;
        while (!events.all(ids, types)) {
            long now = System.currentTimeMillis();
            if (now > deadlineMs) return false;
            if (now - shown >= PROGRESS_MS) {
                shown = now;
                progress.accept(String.format(java.util.Locale.ROOT, "%d of %d instances running", events.count(ids, types), ids.size()));
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** Nearest-rank percentile of {@code v} (which it sorts). */
    static double percentile(double[] v, double p) {
        if (v.length == 0) return Double.NaN;
        Arrays.sort(v);
        int rank = (int) Math.ceil(p / 100.0 * v.length);
        return v[Math.clamp(rank - 1, 0, v.length - 1)];
    }

    @Override
    public void close() {
        fleet.close();
        events.close();
        api.close();
        agentHttp.shutdownNow();
        controller.close();
    }
}
