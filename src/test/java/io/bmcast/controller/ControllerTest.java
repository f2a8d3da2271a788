package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The controller against agents that speak the real protocol, on H2 and on PostgreSQL. */
class ControllerTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void anInstanceLivesAndDiesOnItsNodeWhichIsOfferedAgainOnlyAfterAVerifiedScrub(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            ProtocolAgent n1 = fleet.agent("n1", 1024 * MiB);
            assertEquals(1000, n1.register().heartbeatIntervalMs());
            assertEquals("scrubbing", fleet.node("n1").state(), "a new node is not offered before its agent reports a clean disk");
            assertNull(n1.beat().assignment());
            assertEquals("available", fleet.node("n1").state());
            fleet.addImage("busybox", "small");

            Api.Instance launched = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            assertEquals("scheduled", launched.state());
            assertEquals("n1", launched.node());
            assertEquals("admin", launched.project());
            assertEquals("busy", fleet.node("n1").state());

            Directive d = n1.beat();
            assertEquals(launched.id(), d.assignment().instanceId());
            assertEquals(AgentProtocol.DESIRED_RUNNING, d.assignment().desired());
            assertEquals(fleet.uri("small"), d.assignment().image().uri());
            assertEquals(TestFleet.SMALL_SIZE, d.assignment().image().sizeBytes());
            n1.take();
            n1.print("Booting busybox\n");
            n1.beat();
            assertEquals("starting", fleet.instance(launched.id()).state());
            n1.phase("streaming");
            n1.progress(3 * MiB, 5 * MiB, 0.25);
            n1.print("login: ");
            n1.beat();
            Api.Instance streaming = fleet.instance(launched.id());
            assertEquals("streaming", streaming.state());
            assertEquals(3 * MiB, streaming.bytesOnDemand());
            assertEquals(5 * MiB, streaming.bytesBackground());
            assertEquals("Booting busybox\nlogin: ", fleet.operator.get("/api/v1/instances/" + launched.id() + "/console").body());
            n1.phase("devirtualized");
            n1.progress(3 * MiB, 61 * MiB, 1.0);
            n1.beat();
            Api.Summary summary = fleet.operator.get("/api/v1/summary").as(Api.Summary.class);
            assertEquals(1, summary.instances().get("devirtualized"));
            assertEquals(1.0, summary.launchesPerMinute());
            assertTrue(summary.bytesPerSecond() > 0, "the fleet's fetch rate comes from progress deltas: " + summary);
            assertEquals("devirtualized", fleet.instance(launched.id()).state());
            n1.beat(); // a repeated report changes nothing and doubles no console output
            assertEquals("Booting busybox\nlogin: ", fleet.operator.get("/api/v1/instances/" + launched.id() + "/console").body());

            ApiClient.Response destroy = fleet.operator.delete("/api/v1/instances/" + launched.id());
            assertEquals(202, destroy.status(), destroy.body());
            assertEquals("destroying", destroy.as(Api.Instance.class).state());
            assertEquals(AgentProtocol.DESIRED_DELETED, n1.beat().assignment().desired());
            n1.phase("scrubbing");
            n1.beat();
            assertEquals("scrubbing", fleet.instance(launched.id()).state());
            assertEquals("scrubbing", fleet.node("n1").state());
            n1.scrubbed();
            assertNull(n1.beat().assignment(), "a deleted instance is assigned no more");
            n1.forget();
            assertEquals("deleted", fleet.instance(launched.id()).state());
            Api.Node node = fleet.node("n1");
            assertEquals("available", node.state());
            assertNull(node.instanceId());

            List<String> types = fleet.events().stream().filter(e -> launched.id().equals(e.instanceId())).map(Api.Event::type).toList();
            assertEquals(List.of("instance.pending", "instance.scheduled", "instance.starting", "instance.streaming",
                    "instance.devirtualized", "instance.destroying", "instance.scrubbing", "instance.deleted"), types);
            String metrics = fleet.operator.get("/metrics").body();
            assertTrue(metrics.contains("bmcast_launches_total 1.0"), metrics);
            assertTrue(metrics.contains("bmcast_destroys_total 1.0"), metrics);
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aLaunchThatFindsNoNodeWaitsAndIsPlacedWhenOneFreesUp(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            fleet.addImage("busybox", "small");
            List<Api.Instance> two = fleet.launch(fleet.operator, "busybox", 2);
            Api.Instance placed = two.stream().filter(i -> i.state().equals("scheduled")).findFirst().orElseThrow();
            Api.Instance waiting = two.stream().filter(i -> i.state().equals("pending")).findFirst().orElseThrow();
            assertNull(waiting.node());
            assertTrue(fleet.events().stream().anyMatch(e -> e.type().equals("instance.waiting") && waiting.id().equals(e.instanceId())),
                    "an event says why it waits");

            assertEquals(placed.id(), n1.beat().assignment().instanceId());
            n1.take();
            n1.phase("streaming");
            n1.beat();
            assertEquals(202, fleet.operator.delete("/api/v1/instances/" + placed.id()).status());
            n1.beat();
            n1.scrubbed();
            n1.beat();
            n1.forget();

            Api.Instance now = TestFleet.await("the waiting instance to be placed", () -> fleet.instance(waiting.id()),
                    i -> i.state().equals("scheduled"));
            assertEquals("n1", now.node());
            assertEquals(waiting.id(), n1.beat().assignment().instanceId());
            assertTrue(fleet.events().stream().anyMatch(e -> e.type().equals("instance.scheduled") && waiting.id().equals(e.instanceId())
                    && e.message().contains("freed up")), "an event says it was placed when a node freed up");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void anImageLargerThanEveryDiskIsRefusedAtLaunch(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.availableAgent("n1", 128 * MiB);
            fleet.availableAgent("n2", 200 * MiB);
            fleet.addImage("huge", "big");
            ApiClient.Response r = fleet.operator.post("/api/v1/instances", new Api.Launch("huge", 1));
            assertEquals(422, r.status(), r.body());
            assertTrue(r.error().contains("larger than the disk of every node"), r.error());
            assertTrue(fleet.operator.get("/api/v1/instances?all=true").as(TestFleet.INSTANCES).isEmpty(), "nothing was created");
            assertEquals(404, fleet.operator.post("/api/v1/instances", new Api.Launch("nope", 1)).status());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void twoHundredConcurrentLaunchesEndOnTwoHundredDistinctNodes(Db db) throws Exception {
        int n = 200;
        try (TestFleet fleet = TestFleet.start(db, dir);
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            fleet.addImage("busybox", "small");
            List<Future<ProtocolAgent>> registering = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String name = String.format("node-%03d", i);
                registering.add(threads.submit(() -> fleet.availableAgent(name, 1024 * MiB)));
            }
            List<ProtocolAgent> agents = new ArrayList<>();
            for (Future<ProtocolAgent> f : registering) agents.add(f.get());

            List<Future<Api.Instance>> launching = new ArrayList<>();
            for (int i = 0; i < n; i++) launching.add(threads.submit(() -> fleet.launch(fleet.operator, "busybox", 1).getFirst()));
            Set<String> ids = new HashSet<>();
            Map<String, String> nodeOf = new HashMap<>();
            Map<String, String> instanceOn = new HashMap<>();
            for (Future<Api.Instance> f : launching) {
                Api.Instance i = f.get();
                assertEquals("scheduled", i.state(), "200 free nodes for 200 launches: none waits");
                assertTrue(ids.add(i.id()));
                instanceOn.put(i.id(), i.node());
                String other = nodeOf.put(i.node(), i.id());
                assertNull(other, "node " + i.node() + " given to both " + other + " and " + i.id());
            }
            assertEquals(n, nodeOf.size());

            List<Future<Directive>> beats = new ArrayList<>();
            for (ProtocolAgent a : agents) beats.add(threads.submit(a::beat));
            Set<String> assigned = new HashSet<>();
            for (int i = 0; i < n; i++) {
                Directive d = beats.get(i).get();
                assertNotNull(d.assignment(), agents.get(i).name + " got nothing");
                assertEquals(instanceOn.get(d.assignment().instanceId()), agents.get(i).name);
                assertTrue(assigned.add(d.assignment().instanceId()), "instance " + d.assignment().instanceId() + " assigned twice");
            }
            assertEquals(ids, assigned);
            assertEquals(n, fleet.operator.get("/api/v1/summary").as(Api.Summary.class).nodes().get("busy"));
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void tokensDecideWhoSeesAndDoesWhat(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.availableAgent("n1", 1024 * MiB);
            fleet.availableAgent("n2", 1024 * MiB);
            fleet.addImage("busybox", "small");
            ApiClient anonymous = fleet.as(null);
            ApiClient forged = fleet.as("bmc_not-a-token");
            ApiClient alpha = fleet.project("alpha");
            ApiClient beta = fleet.project("beta");
            ApiClient join = fleet.as(fleet.controller.joinToken());

            for (String path : List.of("/api/v1/instances", "/api/v1/nodes", "/api/v1/images", "/api/v1/events", "/api/v1/summary",
                    "/api/v1/openapi.json", "/metrics")) {
                assertEquals(401, anonymous.get(path).status(), path);
                assertEquals(401, forged.get(path).status(), path);
            }
            assertTrue(anonymous.get("/api/v1/instances").error().contains("needs a token"));

            Api.Instance a = fleet.launch(alpha, "busybox", 1).getFirst();
            assertEquals("alpha", a.project());
            Api.Instance b = fleet.launch(beta, "busybox", 1).getFirst();
            assertEquals(List.of(a.id()), alpha.get("/api/v1/instances").as(TestFleet.INSTANCES).stream().map(Api.Instance::id).toList());
            assertEquals(2, fleet.operator.get("/api/v1/instances").as(TestFleet.INSTANCES).size(), "the operator sees every project");
            assertEquals(404, alpha.get("/api/v1/instances/" + b.id()).status(), "another project's instance does not exist for them");
            assertEquals(404, alpha.delete("/api/v1/instances/" + b.id()).status());
            assertEquals(404, alpha.get("/api/v1/instances/" + b.id() + "/console").status());
            assertEquals("scheduled", fleet.instance(b.id()).state(), "and it is untouched");
            assertEquals(202, alpha.delete("/api/v1/instances/" + a.id()).status(), "a project destroys its own");
            assertTrue(alpha.get("/api/v1/events").as(TestFleet.EVENTS).stream().allMatch(e -> "alpha".equals(e.project())));

            assertEquals(403, alpha.post("/api/v1/images", new Api.NewImage("x", fleet.uri("small"), null)).status());
            assertEquals(403, alpha.delete("/api/v1/images/busybox").status());
            assertEquals(403, alpha.get("/api/v1/nodes").status());
            assertEquals(403, alpha.post("/api/v1/tokens", new Api.NewToken("gamma")).status());
            assertEquals(403, alpha.get("/metrics").status());
            assertEquals(403, alpha.post("/api/v1/agent/heartbeat", new AgentProtocol.Report("n1", 1, null, true)).status());
            assertEquals(200, alpha.get("/api/v1/images").status(), "a project lists images to launch from them");
            assertEquals(403, join.get("/api/v1/instances").status(), "the join token is for agents only");
            assertEquals(403, join.get("/api/v1/nodes").status());

            // the dashboard's way in: the login link sets an HttpOnly cookie that then authenticates
            var login = ApiClient.HTTP.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(fleet.controller.loginUrl())).build(), java.net.http.HttpResponse.BodyHandlers.discarding());
            assertEquals(302, login.statusCode());
            String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
            assertTrue(cookie.contains("HttpOnly"), cookie);
            var withCookie = ApiClient.HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(fleet.controller.url() + "/api/v1/summary"))
                    .header("Cookie", cookie.substring(0, cookie.indexOf(';'))).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, withCookie.statusCode(), withCookie.body());
            var badLogin = ApiClient.HTTP.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(fleet.controller.url() + "/login?token=nope")).build(), java.net.http.HttpResponse.BodyHandlers.discarding());
            assertEquals(401, badLogin.statusCode());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aNodeWhoseHeartbeatsStopIsOfflineAndItsInstanceUnknownNeverRunning(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir, Duration.ofSeconds(1))) {
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            fleet.addImage("busybox", "small");
            Api.Instance inst = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            n1.beat();
            n1.take();
            n1.phase("streaming");
            n1.beat();
            assertEquals("streaming", fleet.instance(inst.id()).state());

            TestFleet.await("node n1 offline", () -> fleet.node("n1").state(), "offline"::equals);
            Api.Instance unknown = fleet.instance(inst.id());
            assertEquals("unknown", unknown.state());
            assertEquals("streaming", unknown.lastKnownState());
            assertEquals(1, fleet.operator.get("/api/v1/summary").as(Api.Summary.class).instances().get("unknown"));
            assertTrue(fleet.events().stream().anyMatch(e -> e.type().equals("node.offline") && "n1".equals(e.node())));

            n1.beat();
            assertEquals("busy", fleet.node("n1").state(), "back: the node takes the state its report implies");
            assertEquals("streaming", fleet.instance(inst.id()).state());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void anImageServedOverNbdIsAddedWithItsSizeAndAllocatedBytes(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            Api.Image image = fleet.addImage("busybox", "small");
            assertEquals(TestFleet.SMALL_SIZE, image.sizeBytes());
            assertEquals(TestFleet.SMALL_DATA, image.allocatedBytes());
            Api.ImageExtents extents = fleet.operator.get("/api/v1/images/busybox/extents").as(Api.ImageExtents.class);
            assertEquals(2, extents.data().size());
            assertEquals(8 * MiB, extents.data().get(1)[0]);
            assertEquals(List.of("busybox"), fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).stream().map(Api.Image::name).toList());

            ApiClient.Response again = fleet.operator.post("/api/v1/images", new Api.NewImage("busybox", fleet.uri("small"), null));
            assertEquals(409, again.status(), again.body());
            long start = System.nanoTime();
            ApiClient.Response unreachable = fleet.operator.post("/api/v1/images", new Api.NewImage("gone", "nbd://127.0.0.1:1/x", null));
            assertEquals(422, unreachable.status(), unreachable.body());
            assertTrue(unreachable.error().startsWith("cannot read image nbd://127.0.0.1:1/x"), unreachable.error());
            ApiClient.Response silent;
            try (java.net.ServerSocket mute = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                silent = fleet.operator.post("/api/v1/images", new Api.NewImage("mute", "nbd://127.0.0.1:" + mute.getLocalPort() + "/x", null));
            }
            assertEquals(422, silent.status(), "a server that accepts and never answers: " + silent.body());
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(20).toNanos(), "refused within seconds, not a minute");
            assertEquals(400, fleet.operator.post("/api/v1/images", new Api.NewImage("bad", "http://x", null)).status());

            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            Api.Instance inst = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            ApiClient.Response inUse = fleet.operator.delete("/api/v1/images/busybox");
            assertEquals(409, inUse.status(), inUse.body());
            assertEquals(202, fleet.operator.delete("/api/v1/instances/" + inst.id()).status());
            n1.beat(); // nothing runs and the disk is clean: the instance is gone
            assertEquals("deleted", fleet.instance(inst.id()).state());
            assertEquals(204, fleet.operator.delete("/api/v1/images/busybox").status());
            assertTrue(fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).isEmpty());
        }
    }
}
