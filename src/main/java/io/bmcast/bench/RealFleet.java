package io.bmcast.bench;

import io.bmcast.agent.Agent;
import io.bmcast.agent.ControllerClient;
import io.bmcast.agent.Machine;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestImage;
import io.bmcast.imageserver.ImageServer;
import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The real mini-fleet: a controller (H2), one image server behind an emulated link, counting what it sends, and
 * three real agents in this JVM, each with its own work dir and sparse disk, running real busybox guests
 * (mediator + QEMU, de-virtualized, scrubbed on destroy) exactly as {@code bmcast agent} does.
 */
final class RealFleet implements AutoCloseable {
    static final String IMAGE = "busybox";
    static final String[] RUNNING = HollowRun.RUNNING;
    static final String[] DEVIRTUALIZED = {"instance.devirtualized", "instance.stopped"};

    private final NbdServer server;
    private final CountingExport counter;
    private final Controller controller;
    private final HttpClient agentHttp;
    private final List<Agent> agents;
    private final OperatorClient api;
    private final FleetEvents events;
    /** The line a busybox guest prints once booted: its init (and so acpid) runs, and a power-button press is heard. */
    private final String readyMarker;

    private RealFleet(NbdServer server, CountingExport counter, Controller controller, HttpClient agentHttp, List<Agent> agents,
            OperatorClient api, FleetEvents events, String readyMarker) {
        this.readyMarker = readyMarker;
        this.server = server;
        this.counter = counter;
        this.controller = controller;
        this.agentHttp = agentHttp;
        this.agents = agents;
        this.api = api;
        this.events = events;
    }

    static RealFleet start(GuestImage guest, LinkEmulator link, long diskBytes, int machines, Path dir) throws IOException, InterruptedException {
        FileExport file = new FileExport(IMAGE, "busybox sample guest", guest.disk(), true);
        CountingExport counter = new CountingExport(ImageServer.wrap(file, link));
        NbdServer server = new NbdServer(Map.<String, Export>of(IMAGE, counter));
        Controller controller = null;
        HttpClient agentHttp = ControllerClient.sharedHttp();
        List<Agent> agents = new ArrayList<>();
        OperatorClient api = null;
        try {
            Listener listener = Listener.unix(dir.resolve("image.sock"));
            server.start(listener);
            controller = Controller.start(ControllerConfig.defaults(dir.resolve("controller")));
            api = new OperatorClient(controller.url(), controller.adminToken(), Duration.ofMinutes(2));
            api.addImage(IMAGE, NbdUri.unix(listener.socketPath(), IMAGE).toString(), guest.kernel(), guest.initrd(), guest.append());
            for (int i = 1; i <= machines; i++) {
                Path work = Files.createDirectories(dir.resolve("machine-" + i));
                Machine.Config config = new Machine.Config(work, null, diskBytes, 256L << 20, Duration.ofSeconds(10), List.of());
                agents.add(new Agent("real-" + i, config,
                        new ControllerClient(URI.create(controller.url()), controller.joinToken(), agentHttp)).start());
            }
            long deadline = System.nanoTime() + HollowRun.READY_TIMEOUT.toNanos();
            while (api.nodes().stream().filter(n -> "available".equals(n.state())).count() < machines) {
                if (System.nanoTime() > deadline) throw new IOException("the real agents' machines were not available within "
                        + HollowRun.READY_TIMEOUT.toSeconds() + " s");
                Thread.sleep(200);
            }
            return new RealFleet(server, counter, controller, agentHttp, agents, api, FleetEvents.follow(api), guest.readyMarker());
        } catch (IOException | InterruptedException | RuntimeException e) {
            new RealFleet(server, counter, controller, agentHttp, agents, api, null, null).close();
            throw e;
        }
    }

    /**
     * Launches {@code k} at once, waits until all are devirtualized, then until every guest has printed its ready
     * marker, destroys them at once, and waits for their nodes. Destroying a guest still booting would measure the
     * agent's stop grace (its init does not yet answer the ACPI power button), not the destroy.
     */
    RealSample launch(int k, int round, Duration timeout) throws IOException, InterruptedException {
        long bytes0 = counter.bytesRead();
        Map<String, Long> requestedAt = new ConcurrentHashMap<>();
        AtomicReference<Exception> failed = new AtomicReference<>();
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch answered = new CountDownLatch(k);
        for (int i = 0; i < k; i++) {
            Thread.ofVirtual().start(() -> {
                try {
                    go.await();
                    long at = System.currentTimeMillis();
                    for (Api.Instance inst : api.launch(IMAGE, 1)) requestedAt.put(inst.id(), at);
                } catch (Exception e) {
                    failed.compareAndSet(null, e);
                } finally {
                    answered.countDown();
                }
            });
        }
        long t0 = System.currentTimeMillis();
        long t0Ns = System.nanoTime();
        go.countDown();
        if (!answered.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) throw new IOException("launch requests unanswered");
        if (failed.get() != null) throw new IOException("a launch failed: " + failed.get().getMessage(), failed.get());
        await(requestedAt.keySet(), t0 + timeout.toMillis(), "devirtualized", DEVIRTUALIZED);
        long running = 0, devirtualized = 0;
        for (String id : requestedAt.keySet()) {
            running = Math.max(running, events.first(id, RUNNING));
            devirtualized = Math.max(devirtualized, events.first(id, DEVIRTUALIZED));
        }
        long egress = counter.bytesRead() - bytes0;
        double egressSeconds = (counter.lastReadEndNs() - t0Ns) / 1e9;

        awaitReady(requestedAt.keySet(), t0 + timeout.toMillis());

        Map<String, String> nodeOf = new HashMap<>();
        for (Api.Instance i : api.instances()) if (requestedAt.containsKey(i.id())) nodeOf.put(i.id(), i.node());
        long d0 = System.currentTimeMillis();
        CountDownLatch destroyed = new CountDownLatch(k);
        for (String id : requestedAt.keySet()) {
            Thread.ofVirtual().start(() -> {
                try {
                    api.destroy(id);
                } catch (Exception e) {
                    failed.compareAndSet(null, e);
                } finally {
                    destroyed.countDown();
                }
            });
        }
        if (!destroyed.await(timeout.toMillis(), TimeUnit.MILLISECONDS) || failed.get() != null) {
            throw new IOException("destroy failed: " + (failed.get() == null ? "unanswered" : failed.get().getMessage()));
        }
        long available = 0;
        for (String node : nodeOf.values()) {
            long deadline = d0 + timeout.toMillis();
            while (events.availableAt(node) < d0) {
                if (System.currentTimeMillis() > deadline) throw new IOException("node " + node + " not available again after its destroy");
                Thread.sleep(20);
            }
            available = Math.max(available, events.availableAt(node));
        }
        double scrub = 0;
        for (Agent a : agents) {
            if (nodeOf.containsValue(a.name()) && a.machine().lastScrub() != null) scrub = Math.max(scrub, a.machine().lastScrub().seconds());
        }
        return new RealSample(k, round, (running - t0) / 1000.0, (devirtualized - t0) / 1000.0, egress, egressSeconds,
                (available - d0) / 1000.0, scrub);
    }

    /** Waits until each instance's console (as the controller holds it) shows the guest's ready marker. */
    private void awaitReady(java.util.Set<String> ids, long deadlineMs) throws IOException, InterruptedException {
        if (readyMarker == null) return;
        for (String id : ids) {
            while (!api.console(id).contains(readyMarker)) {
                if (System.currentTimeMillis() > deadlineMs) {
                    throw new IOException("instance " + id + " did not print its ready marker '" + readyMarker + "' within the time allowed");
                }
                Thread.sleep(100);
            }
        }
    }

    private void await(java.util.Set<String> ids, long deadlineMs, String what, String... types) throws IOException, InterruptedException {
        while (!events.all(ids, types)) {
            if (events.count(ids, "instance.failed") > 0) throw new IOException("an instance failed on its way to " + what);
            if (System.currentTimeMillis() > deadlineMs) {
                throw new IOException(events.count(ids, types) + " of " + ids.size() + " instances " + what + " within the time allowed");
            }
            Thread.sleep(20);
        }
    }

    @Override
    public void close() {
        if (events != null) events.close();
        for (Agent a : agents) {
            try {
                a.close();
            } catch (IOException e) {
                System.err.println("fleet: closing agent " + a.name() + ": " + e.getMessage());
            }
        }
        if (api != null) api.close();
        agentHttp.shutdownNow();
        if (controller != null) controller.close();
        server.close();
    }
}
