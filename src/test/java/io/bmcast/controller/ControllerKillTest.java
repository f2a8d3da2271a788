package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.Api;
import io.bmcast.testing.TestServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A controller killed with -9 in the middle of launches and started again on the same data directory and
 * database loses no node, image, instance, token or event it acknowledged, and the launch converges.
 */
class ControllerKillTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void aControllerKilledMidLaunchLosesNothingAndTheLaunchConverges(Db db) throws Exception {
        String jdbcUrl = TestFleet.jdbcUrl(db);
        Path data = dir.resolve("data");
        try (TestServer images = TestFleet.imageServer(dir)) {
            Child first = Child.start(data, jdbcUrl, dir.resolve("first.log"));
            ApiClient op;
            ProtocolAgent n1;
            List<Api.Instance> acknowledged = new ArrayList<>();
            List<Api.Node> nodesBefore;
            List<Api.Image> imagesBefore;
            List<Api.Event> eventsBefore;
            String projectToken;
            try {
                op = new ApiClient(first.url, Files.readString(data.resolve(AccessTokens.ADMIN_FILE)).strip());
                String join = Files.readString(data.resolve(AccessTokens.JOIN_FILE)).strip();
                n1 = new ProtocolAgent(first.url, join, "n1", 1024 * MiB);
                n1.register();
                n1.beat();
                assertEquals(201, op.post("/api/v1/images", new Api.NewImage("busybox", images.uri("small"), null)).status());
                projectToken = op.post("/api/v1/tokens", new Api.NewToken("alpha")).as(Api.Token.class).token();
                acknowledged.addAll(op.post("/api/v1/instances", new Api.Launch("busybox", 1)).as(TestFleet.INSTANCES));
                n1.beat();
                n1.take();
                n1.beat();
                nodesBefore = op.get("/api/v1/nodes").as(TestFleet.NODES);
                imagesBefore = op.get("/api/v1/images").as(TestFleet.IMAGES);
                eventsBefore = op.get("/api/v1/events?after=0&limit=1000").as(TestFleet.EVENTS);

                // launches in flight when the controller dies
                List<CompletableFuture<ApiClient.Response>> inFlight = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    inFlight.add(CompletableFuture.supplyAsync(() -> op.post("/api/v1/instances", new Api.Launch("busybox", 2)),
                            java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()));
                }
                CompletableFuture.anyOf(inFlight.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
                first.kill9();
                for (CompletableFuture<ApiClient.Response> f : inFlight) {
                    try {
                        ApiClient.Response r = f.get(30, TimeUnit.SECONDS);
                        if (r.status() == 201) acknowledged.addAll(r.as(TestFleet.INSTANCES));
                    } catch (java.util.concurrent.ExecutionException lostWithTheController) {
                        // no answer: the launch may or may not have been stored, and either is fine
                    }
                }
                
            } finally {
                first.kill9();
            }

            Child second = Child.start(data, jdbcUrl, dir.resolve("second.log"));
            try {
                ApiClient op2 = new ApiClient(second.url, op.token());
                ApiClient alpha = new ApiClient(second.url, projectToken);
                assertEquals(200, alpha.get("/api/v1/instances").status(), "the project token survived");
                assertEquals(nodesBefore.stream().map(n -> n.name() + "/" + n.state() + "/" + n.instanceId()).toList(),
                        op2.get("/api/v1/nodes").as(TestFleet.NODES).stream().map(n -> n.name() + "/" + n.state() + "/" + n.instanceId()).toList());
                assertEquals(imagesBefore, op2.get("/api/v1/images").as(TestFleet.IMAGES));
                Map<String, Api.Instance> after = op2.get("/api/v1/instances?all=true").as(TestFleet.INSTANCES).stream()
                        .collect(Collectors.toMap(Api.Instance::id, Function.identity()));
                for (Api.Instance a : acknowledged) assertNotNull(after.get(a.id()), "acknowledged instance " + a.id() + " lost");
                Api.Instance running = after.get(acknowledged.getFirst().id());
                assertEquals("starting", running.state());
                for (Api.Instance i : after.values()) {
                    if (i.id().equals(running.id())) continue;
                    assertEquals("pending", i.state(), "one node, and it is busy: " + i);
                    assertNull(i.node());
                }
                List<Api.Event> events = op2.get("/api/v1/events?after=0&limit=1000").as(TestFleet.EVENTS);
                assertTrue(events.containsAll(eventsBefore), "every event is still there, unchanged");
                for (Api.Instance a : acknowledged) {
                    assertTrue(events.stream().anyMatch(e -> e.type().equals("instance.pending") && a.id().equals(e.instanceId())),
                            "the launch event of " + a.id());
                }
                assertTrue(events.stream().anyMatch(e -> e.type().equals("instance.starting") && running.id().equals(e.instanceId())));

                // the agents carry on against the new controller: the launch converges
                n1.reconnect(second.url, joinToken(data));
                n1.register();
                assertEquals(running.id(), n1.beat().assignment().instanceId());
                n1.phase("streaming");
                n1.beat();
                assertEquals("streaming", op2.get("/api/v1/instances/" + running.id()).as(Api.Instance.class).state());
                ProtocolAgent n2 = new ProtocolAgent(second.url, joinToken(data), "n2", 1024 * MiB);
                n2.register();
                n2.beat();
                TestFleet.await("a pending instance placed on the new node n2", () -> op2.get("/api/v1/nodes").as(TestFleet.NODES),
                        nodes -> nodes.stream().anyMatch(n -> n.name().equals("n2") && n.state().equals("busy")));
                assertNotNull(n2.beat().assignment());
            } finally {
                second.kill9();
            }
        }
    }

    private static String joinToken(Path data) throws java.io.IOException {
        return Files.readString(data.resolve(AccessTokens.JOIN_FILE)).strip();
    }

    /** {@code bmcast controller} in a JVM of its own, so that it can be killed with SIGKILL. */
    private record Child(Process process, String url) {
        static Child start(Path data, String jdbcUrl, Path log) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = new ArrayList<>(List.of(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                    ControllerCommand.class.getName(), "--listen", "127.0.0.1:0", "--data", data.toString()));
            if (jdbcUrl != null) cmd.addAll(List.of("--db", jdbcUrl));
            Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            if (line == null) throw new AssertionError("the controller exited: " + Files.readString(log));
            int at = line.indexOf("http://");
            String url = line.substring(at, line.indexOf(' ', at));
            return new Child(p, url);
        }

        void kill9() throws Exception {
            if (!process.isAlive()) return;
            assertEquals(0, new ProcessBuilder("kill", "-9", Long.toString(process.pid())).start().waitFor());
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        }
    }
}
