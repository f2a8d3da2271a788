package io.bmcast.demo;

import io.bmcast.fleet.ApiClient;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The demo's view of a few instances, through the controller's API only (as an operator's script would see
 * them): launches them at once, prints each state change and each guest's verdict on its data as they happen,
 * a progress line every few seconds, and keeps the timeline for the closing table.
 */
final class FleetRun {
    private static final long PROGRESS_EVERY_NS = 3_000_000_000L;
    /** How long after de-virtualization a guest may still take to print its check before the demo calls it missing. */
    private static final double VERDICT_GRACE_S = 60;

    private final ApiClient api;
    private final PrintStream out;
    private final String readyMarker;
    private final Map<String, Tracked> instances = new LinkedHashMap<>();
    private long startNs;
    private long destroyNs;

    FleetRun(ApiClient api, PrintStream out, String readyMarker) {
        this.api = api;
        this.out = out;
        this.readyMarker = readyMarker;
    }

    /** One instance's timeline, seconds since the launch request (-1: not yet). */
    private static final class Tracked {
        final String id;
        String node;
        String state = "pending";
        double running = -1, ready = -1, checked = -1, devirtualized = -1, deleted = -1;
        String verdict;
        boolean checkOk;
        long bytesOnDemand, bytesBackground;
        double fractionLocal;
        long fromPeers, fromStore, fromCache, chunksVerified, chunksRejected;

        /** The launch request of this instance's wave: its timeline counts from there. */
        final long launchNs;

        Tracked(String id, long launchNs) {
            this.id = id;
            this.launchNs = launchNs;
        }
    }

    void launch(String image, int count) throws IOException {
        out.printf(count == 1 ? "demo: launching 1 instance%n" : "demo: launching %d instances at once%n", count);
        if (startNs == 0) startNs = System.nanoTime(); // a second wave keeps the first's clock
        long waveNs = System.nanoTime();
        List<Api.Instance> launched = api.post("api/v1/instances", new Api.Launch(image, count), ApiClient.INSTANCES);
        for (Api.Instance i : launched) instances.put(i.id(), new Tracked(i.id(), waveNs));
    }

    /** Follows every instance until all are {@code goal} and every guest has reported its check (or failed). */
    void awaitAll(String goal, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long lastProgress = System.nanoTime();
        while (true) {
            poll();
            readConsoles();
            boolean done = instances.values().stream().allMatch(t -> t.state.equals(goal) && t.verdict != null);
            if (done) return;
            for (Tracked t : instances.values()) {
                if (InstanceState.FAILED.wire().equals(t.state)) throw new IOException("instance " + t.id + " failed; see `bmcast events`");
            }
            if (System.nanoTime() - lastProgress > PROGRESS_EVERY_NS) {
                lastProgress = System.nanoTime();
                printProgress();
            }
            if (System.nanoTime() > deadline) throw new IOException("gave up waiting for every instance to be " + goal);
            Thread.sleep(200);
        }
    }

    void destroyAll(Duration timeout) throws IOException, InterruptedException {
        out.printf("demo: destroying all %d: each guest is powered off (ACPI), then each node scrubs its own disk and"
                + " proves it clean, in parallel%n", instances.size());
        destroyNs = System.nanoTime();
        for (String id : instances.keySet()) api.delete("api/v1/instances/" + id, ApiClient.INSTANCE);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (instances.values().stream().anyMatch(t -> !t.state.equals("deleted"))) {
            if (System.nanoTime() > deadline) throw new IOException("gave up waiting for the destroys");
            Thread.sleep(100);
            poll();
        }
        double slowest = instances.values().stream().mapToDouble(t -> t.deleted).max().orElse(-1);
        List<Api.Node> nodes = api.get("api/v1/nodes", ApiClient.NODES);
        long available = nodes.stream().filter(n -> "available".equals(n.state())).count();
        out.printf(Locale.ROOT, "demo: all destroyed %.1f s after the request; %d of %d nodes available again, their disks"
                + " verified clean%n", slowest, available, nodes.size());
    }

    /** With --keep, at the end: whatever a person launched from the dashboard goes too, scrubbed. */
    void destroyEverything(Duration timeout) throws IOException, InterruptedException {
        List<Api.Instance> live = api.get("api/v1/instances", ApiClient.INSTANCES).stream()
                .filter(i -> !"deleted".equals(i.state())).toList();
        for (Api.Instance i : live) api.delete("api/v1/instances/" + i.id(), ApiClient.INSTANCE);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && api.get("api/v1/instances", ApiClient.INSTANCES).stream()
                .anyMatch(i -> !"deleted".equals(i.state()))) {
            Thread.sleep(200);
        }
    }

    boolean allChecked() {
        return instances.values().stream().allMatch(t -> t.checkOk);
    }

    private double now(long fromNs) {
        return (System.nanoTime() - fromNs) / 1e9;
    }

    private void poll() throws IOException {
        Map<String, Api.Instance> seen = new LinkedHashMap<>();
        for (Api.Instance i : api.get("api/v1/instances?all=true", ApiClient.INSTANCES)) seen.put(i.id(), i);
        for (Tracked t : instances.values()) {
            Api.Instance i = seen.get(t.id);
            if (i == null) continue;
            // A deleted instance's progress is forgotten by the controller: keep what it had moved.
            t.bytesOnDemand = Math.max(t.bytesOnDemand, i.bytesOnDemand());
            t.bytesBackground = Math.max(t.bytesBackground, i.bytesBackground());
            t.fractionLocal = i.fractionLocal();
            t.fromPeers = Math.max(t.fromPeers, i.bytesFromPeers());
            t.fromStore = Math.max(t.fromStore, i.bytesFromStore());
            t.fromCache = Math.max(t.fromCache, i.bytesFromCache());
            t.chunksVerified = Math.max(t.chunksVerified, i.chunksVerified());
            t.chunksRejected = Math.max(t.chunksRejected, i.chunksRejected());
            if (i.node() != null) t.node = i.node();
            if (i.state().equals(t.state)) continue;
            t.state = i.state();
            double at = now(t.launchNs);
            if (t.running < 0 && InstanceState.fromWire(t.state).isRunningOrLater()) t.running = at;
            if (t.devirtualized < 0 && t.state.equals("devirtualized")) t.devirtualized = at;
            if (t.deleted < 0 && t.state.equals("deleted")) t.deleted = now(destroyNs);
            String what = switch (t.state) {
                case "streaming" -> "streaming: the guest runs while its disk arrives";
                case "devirtualized" -> "devirtualized: disk complete, the mediator left the I/O path";
                case "deleted" -> "deleted: disk scrubbed and verified, node available";
                case "failed" -> "failed: " + i.reason();
                default -> t.state;
            };
            out.printf(Locale.ROOT, "[%6.2f s] %s on %s: %s%n", at, t.id, t.node == null ? "-" : t.node, what);
        }
    }

    private void readConsoles() throws IOException {
        for (Tracked t : instances.values()) {
            if (t.verdict != null || t.running < 0) continue;
            if (t.devirtualized >= 0 && now(t.launchNs) - t.devirtualized > VERDICT_GRACE_S) {
                t.verdict = "no self-check line on its console";
                out.printf(Locale.ROOT, "[%6.2f s] %s on %s: %s%n", now(t.launchNs), t.id, t.node, t.verdict);
                continue;
            }
            String console = api.getText("api/v1/instances/" + t.id + "/console");
            if (t.ready < 0 && console.contains(readyMarker)) {
                t.ready = now(t.launchNs);
                out.printf(Locale.ROOT, "[%6.2f s] %s on %s: guest ready (%s on its console)%n", t.ready, t.id, t.node, readyMarker);
            }
            SelfCheck check = SelfCheck.find(console);
            if (check != null) {
                t.checked = now(t.launchNs);
                t.verdict = check.summary();
                t.checkOk = check.ok();
                out.printf(Locale.ROOT, "[%6.2f s] %s on %s: the guest checked its data: %s%s%n", t.checked, t.id, t.node,
                        t.verdict, t.devirtualized < 0 ? " (its disk still streaming)" : "");
            }
        }
    }

    private void printProgress() {
        List<String> parts = new ArrayList<>();
        long moved = 0;
        for (Tracked t : instances.values()) {
            parts.add(String.format(Locale.ROOT, "%s %3.0f%%", t.node == null ? t.id : t.node, 100 * t.fractionLocal));
            moved += t.bytesOnDemand + t.bytesBackground;
        }
        double s = now(startNs);
        out.printf(Locale.ROOT, "[%6.2f s] local: %s; %s moved (%s)%n", s, String.join(", ", parts), Units.formatSize(moved),
                Units.formatRate(moved / Math.max(s, 0.001)));
    }

    /**
     * Where each instance's image bytes came from (an image in the store): its node's cache, its peers, the store,
     * as stored (compressed) bytes, and how many distinct chunks it verified or rejected.
     */
    void printSources() {
        out.println();
        out.println("where the bytes came from (as stored, zstd-compressed where it paid), every chunk checked by SHA-256");
        out.printf("  %-20s %-8s %12s %12s %12s %10s %9s%n", "instance", "node", "from peers", "from store", "from cache", "verified", "rejected");
        long peers = 0, store = 0, cache = 0, verified = 0, rejected = 0;
        for (Tracked t : instances.values()) {
            out.printf("  %-20s %-8s %12s %12s %12s %10d %9d%n", t.id, t.node, Units.formatSize(t.fromPeers), Units.formatSize(t.fromStore),
                    Units.formatSize(t.fromCache), t.chunksVerified, t.chunksRejected);
            peers += t.fromPeers;
            store += t.fromStore;
            cache += t.fromCache;
            verified += t.chunksVerified;
            rejected += t.chunksRejected;
        }
        long all = Math.max(1, peers + store + cache);
        out.printf(Locale.ROOT, "  all: %s from peers (%.0f%%), %s from the store, %s from caches; %d chunks verified, %d rejected%n",
                Units.formatSize(peers), 100.0 * peers / all, Units.formatSize(store), Units.formatSize(cache), verified, rejected);
    }

    void printTimeline(long imageSize, long allocated, long rate) {
        out.println();
        out.println("timeline, seconds since each instance's launch request (destroyed: since the destroy request)");
        out.printf("  %-20s %-8s %8s %8s %8s %14s %10s%n", "instance", "node", "running", "ready", "checked", "devirtualized", "destroyed");
        long onDemand = 0, background = 0;
        double lastReady = 0;
        for (Tracked t : instances.values()) {
            out.printf("  %-20s %-8s %8s %8s %8s %14s %10s%n", t.id, t.node, DemoCommand.seconds(t.running),
                    DemoCommand.seconds(t.ready), DemoCommand.seconds(t.checked), DemoCommand.seconds(t.devirtualized),
                    DemoCommand.seconds(t.deleted));
            onDemand += t.bytesOnDemand;
            background += t.bytesBackground;
            lastReady = Math.max(lastReady, t.ready);
        }
        if (rate <= 0) return; // from the store: no emulated link to compare with (see printSources)
        int n = instances.size();
        out.printf("moved over the link: %s on demand + %s in the background, for %d instances of a %s image (%s allocated each)%n",
                Units.formatSize(onDemand), Units.formatSize(background), n, Units.formatSize(imageSize), Units.formatSize(allocated));
        double fullCopy = (double) n * imageSize / rate;
        out.printf(Locale.ROOT, "a full copy of %d x %s over %s would take %.0f s before the last guest could boot;%n", n,
                Units.formatSize(imageSize), Units.formatRate(rate), fullCopy);
        if (lastReady > 0) {
            out.printf(Locale.ROOT, "  bmcast had all %d guests ready after %.1f s: %.0fx sooner%n", n, lastReady, (fullCopy + lastReady) / lastReady);
        }
    }
}
