package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.InstanceReport;
import io.bmcast.fleet.AgentProtocol.Report;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What agents and users send is checked at the boundary (issue 12, item 9), against the real controller over HTTP on
 * H2 and PostgreSQL: free text is clipped so that the state it comes with still moves, bad fields are a 400 that
 * names them, and no answer ever carries SQL or an exception's text.
 */
class AgentInputTest {
    /** What a store or exception message would show: none of it may reach a client. */
    private static final Pattern LEAK = Pattern.compile("(?i)sql|insert into|update \\w+ set|select |exception|varchar|jdbc");

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void aLongFailureReasonIsClippedAndTheInstanceStillFails(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            String id = fleet.launch(fleet.operator, "busybox", 1).getFirst().id();
            n1.beat();
            n1.take();
            n1.phase("streaming");
            n1.beat();
            String reason = "the guest said: " + "x".repeat(3000);
            n1.failed(reason);
            ApiClient.Response r = n1.beatRaw();
            assertEquals(200, r.status(), "a long reason must not make the heartbeat fail: " + r.body());
            Api.Instance failed = fleet.instance(id);
            assertEquals("failed", failed.state(), "the state moves even with a reason longer than the store keeps");
            assertTrue(failed.reason().length() <= 2048, "clipped to its column: " + failed.reason().length());
            assertTrue(failed.reason().startsWith("the guest said: xxx") && failed.reason().endsWith("[clipped]"), failed.reason());
            assertEquals(200, n1.beatRaw().status(), "and later heartbeats are answered too");

            // Console output beyond one report's share is taken in part and acknowledged; the rest follows.
            String big = "y".repeat(AgentProtocol.MAX_CONSOLE_BYTES + 1000);
            n1.print(big);
            n1.beat();
            assertEquals(AgentProtocol.MAX_CONSOLE_BYTES, n1.last.consoleOffset());
            n1.beat();
            assertEquals(big.length(), n1.last.consoleOffset());
            assertEquals(big, fleet.operator.get("/api/v1/instances/" + id + "/console").body());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void badAgentFieldsAreRefusedNamingTheFieldWithoutSql(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            ApiClient join = new ApiClient(fleet.controller.url(), fleet.controller.joinToken());
            ApiClient.Response accel = join.post("/api/v1/agent/register",
                    new AgentProtocol.Hello("n1", 1024 * MiB, 1L << 30, 2, "k".repeat(300), false));
            refused(400, accel, "accel");
            assertTrue(fleet.operator.get("/api/v1/nodes").as(TestFleet.NODES).isEmpty(), "a refused registration leaves no node");
            refused(400, join.post("/api/v1/agent/register", new AgentProtocol.Hello("n".repeat(200), 1024 * MiB, 0, 1, "kvm", false)), "node name");
            refused(400, join.post("/api/v1/agent/register", new AgentProtocol.Hello("n1", 1024 * MiB, 0, -1, "kvm", false)), "cpus");

            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            String id = fleet.launch(fleet.operator, "busybox", 1).getFirst().id();
            n1.beat();
            n1.take();
            long seq = n1.report().seq();
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", seq + 1,
                    new InstanceReport(null, "streaming", null, 0, 0, 0, 0, ""), false)), "instance.id");
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", seq + 2,
                    new InstanceReport("i-" + "0".repeat(300), "streaming", null, 0, 0, 0, 0, ""), false)), "instance.id");
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", seq + 3,
                    new InstanceReport(id, "p".repeat(5000), null, 0, 0, 0, 0, ""), false)), "instance.phase");
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", seq + 4,
                    new InstanceReport(id, "streaming", null, -1, 0, 0, 0, ""), false)), "bytesOnDemand");
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", seq + 5,
                    new InstanceReport(id, "streaming", null, 0, 0, 7.5, 0, ""), false)), "fractionLocal");
            refused(400, n1.send("/api/v1/agent/heartbeat", Map.of("name", "n1", "seq", seq + 6, "diskClean", false,
                    "instance", Map.of("phase", "streaming"))), "instance.id");
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", seq + 7,
                    new InstanceReport(id, null, null, 0, 0, 0, 0, ""), false)), "instance.phase");
            refused(400, n1.send("/api/v1/agent/heartbeat", new Report("n1", 0, null, false)), "seq");
            assertEquals("scheduled", fleet.instance(id).state(), "refused reports change nothing");
            n1.phase("streaming");
            n1.beat();
            assertEquals("streaming", fleet.instance(id).state(), "and the node's next good report is applied");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void userFieldsTooLongForTheStoreAreA400NotA503WithSql(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            refused(400, fleet.operator.post("/api/v1/images", new Api.NewImage("busybox", fleet.uri("small"), "console=ttyS0 " + "a".repeat(5000))),
                    "append");
            refused(400, fleet.operator.post("/api/v1/images", new Api.NewImage("i".repeat(129), fleet.uri("small"), null)), "image name");
            refused(400, fleet.operator.post("/api/v1/images", new Api.NewImage("busybox", fleet.uri("small") + "?" + "u".repeat(2000), null)), "uri");
            assertTrue(fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).isEmpty(), "nothing was added");
            refused(400, fleet.operator.post("/api/v1/tokens", new Api.NewToken("p".repeat(3000))), "project");
            fleet.addImage("busybox", "small");
            ApiClient.Response launch = fleet.operator.post("/api/v1/instances", new Api.Launch("b".repeat(3000), 1));
            assertFalse(launch.status() / 100 == 2 || launch.status() >= 500, launch.status() + " " + launch.body());
            assertFalse(LEAK.matcher(launch.body()).find(), launch.body());
            ApiClient.Response get = fleet.operator.get("/api/v1/instances/" + "i".repeat(3000));
            assertEquals(404, get.status(), get.body());
            assertFalse(LEAK.matcher(get.body()).find(), get.body());
        }
    }

    private static void refused(int status, ApiClient.Response r, String field) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.error().contains(field), "the error names " + field + ": " + r.body());
        assertFalse(LEAK.matcher(r.body()).find(), "no SQL or exception text reaches a client: " + r.body());
    }
}
