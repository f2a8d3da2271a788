package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An operator can always get out (issue 12, item 12): a destroy on a dead node, a failed node, a wedged state, a
 * node to retire. Against the real controller over HTTP, agents speaking the real protocol, on H2 and PostgreSQL.
 */
class OperatorTest {
    static final Duration LONG = Duration.ofHours(1);

    @TempDir
    Path dir;

    /** A running instance on {@code agent}: launched, taken, streaming. */
    static Api.Instance running(TestFleet fleet, ProtocolAgent agent, String image) {
        Api.Instance launched = fleet.launch(fleet.operator, image, 1).getFirst();
        assertEquals(agent.name, launched.node());
        agent.beat();
        agent.take();
        agent.phase("streaming");
        agent.beat();
        assertEquals("streaming", fleet.instance(launched.id()).state());
        return launched;
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void destroyForceFreesAnInstanceOnADeadNodeWhichIsScrubbedBeforeAnyReuse(Db db) throws Exception {
        Deadlines deadlines = new Deadlines(LONG, LONG, Duration.ofMillis(200), LONG);
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withHeartbeatTimeout(Duration.ofSeconds(1)).withDeadlines(deadlines))) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            Api.Instance inst = running(fleet, n1, "busybox");
            // n1 dies: no more heartbeats
            TestFleet.await("n1 offline", () -> fleet.node("n1").state(), "offline"::equals);
            assertEquals(202, fleet.operator.delete("/api/v1/instances/" + inst.id()).status());
            Api.Instance stuck = TestFleet.await("the destroy deadline to pass on the dead node", () -> fleet.instance(inst.id()),
                    i -> i.reason() != null && i.reason().contains("destroy --force"));
            assertEquals("unknown", stuck.state(), "it stays visible: its disk may still hold the tenant's data");
            assertEquals("destroying", stuck.lastKnownState());
            assertTrue(stuck.reason().contains("destroying deadline"), stuck.reason());
            ApiClient.Response blocked = fleet.operator.delete("/api/v1/images/busybox");
            assertEquals(409, blocked.status(), blocked.body());

            ApiClient tenant = fleet.project("p1");
            assertEquals(403, tenant.delete("/api/v1/instances/" + inst.id() + "?force=true").status(), "only the operator forces");
            ApiClient.Response forced = fleet.operator.delete("/api/v1/instances/" + inst.id() + "?force=true");
            assertEquals(202, forced.status(), forced.body());
            assertEquals("deleted", fleet.instance(inst.id()).state());
            ApiClient.Response removed = fleet.operator.delete("/api/v1/images/busybox");
            assertEquals(204, removed.status(), "image rm goes through once the stuck instance is forced out: " + removed.body());
            Api.Node dead = fleet.node("n1");
            assertEquals("offline", dead.state());
            assertTrue(dead.mustScrub(), "the node owes a verified scrub before any reuse: " + dead);
            assertNull(dead.instanceId());

            fleet.addImage("busybox2", "small");
            Api.Instance waiting = fleet.launch(fleet.operator, "busybox2", 1).getFirst();
            assertEquals("pending", waiting.state(), "a node that owes a scrub is offered to nobody");
            // n1 comes back, its agent still running the old guest: it is told to let go and scrub
            Directive d = n1.beat();
            assertNull(d.assignment(), "nothing should run on n1: " + d);
            assertEquals("scrubbing", fleet.node("n1").state());
            assertEquals("pending", fleet.instance(waiting.id()).state());
            n1.scrubbed();
            n1.beat();
            n1.forget();
            TestFleet.await("the waiting instance placed on the scrubbed node", () -> {
                n1.beat(); // keeps n1 heard (a 1 s timeout)
                return fleet.instance(waiting.id()).state();
            }, "scheduled"::equals);
            assertFalse(fleet.node("n1").mustScrub());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void nodeScrubMakesAFailedNodeScrubAgainAndOffersItOnlyOnANewVerifiedScrub(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            Api.Instance inst = running(fleet, n1, "busybox");
            ApiClient.Response busy = fleet.operator.post("/api/v1/nodes/n1/scrub", Map.of());
            assertEquals(409, busy.status(), busy.body());
            assertTrue(busy.error().contains(inst.id()), busy.error());
            assertEquals(404, fleet.operator.post("/api/v1/nodes/nope/scrub", Map.of()).status());

            fleet.operator.delete("/api/v1/instances/" + inst.id());
            n1.phase("scrubbing");
            n1.beat();
            n1.failed("the scrub could not be verified: data left at offset 0");
            n1.beat();
            assertEquals("failed", fleet.node("n1").state());
            n1.forget();
            n1.clean(); // the agent believes its disk clean (say, a retried scrub it thinks went well)

            ApiClient.Response ordered = fleet.operator.post("/api/v1/nodes/n1/scrub", Map.of());
            assertEquals(202, ordered.status(), ordered.body());
            assertEquals("scrubbing", fleet.node("n1").state());
            // the agent still believes its disk clean: that is no proof of the new scrub
            Directive d = n1.beat();
            assertTrue(d.scrub(), "the agent is told to scrub: " + d);
            assertEquals("scrubbing", fleet.node("n1").state());
            Api.Instance waiting = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            assertEquals("pending", waiting.state());
            n1.dirty();
            assertFalse(n1.beat().scrub(), "heard: the scrub is under way");
            n1.clean();
            n1.beat();
            TestFleet.await("the node available again and the waiting instance placed", () -> fleet.instance(waiting.id()).state(),
                    "scheduled"::equals);
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aNodeInMaintenanceGetsNoNewInstanceAndKeepsWhatItRuns(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            Api.Instance inst = running(fleet, n1, "busybox");
            assertEquals(204, fleet.operator.post("/api/v1/nodes/n1/maintenance", new Api.Maintenance(true)).status());
            assertTrue(fleet.node("n1").maintenance());
            Directive d = n1.beat();
            assertEquals(inst.id(), d.assignment().instanceId(), "what it runs keeps running");
            assertEquals("running", d.assignment().desired());
            assertEquals(404, fleet.operator.post("/api/v1/nodes/nope/maintenance", new Api.Maintenance(true)).status());
            assertEquals(403, fleet.project("p1").post("/api/v1/nodes/n1/maintenance", new Api.Maintenance(false)).status());

            fleet.operator.delete("/api/v1/instances/" + inst.id());
            n1.beat();
            n1.scrubbed();
            n1.beat();
            n1.forget();
            n1.beat();
            assertEquals("available", fleet.node("n1").state());
            Api.Instance waiting = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            assertEquals("pending", waiting.state(), "an available node in maintenance is offered to nobody");
            assertEquals(204, fleet.operator.post("/api/v1/nodes/n1/maintenance", new Api.Maintenance(false)).status());
            TestFleet.await("placed once maintenance is off", () -> fleet.instance(waiting.id()).state(), "scheduled"::equals);
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void nodeRmIsRefusedWhileItHoldsALiveInstanceUnlessForcedAndFreesTheName(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            Api.Instance inst = running(fleet, n1, "busybox");
            fleet.availableAgent("n2", 1024 * MiB);
            ApiClient.Response refused = fleet.operator.delete("/api/v1/nodes/n1");
            assertEquals(409, refused.status(), refused.body());
            assertTrue(refused.error().contains("--force"), refused.error());
            assertEquals(404, fleet.operator.delete("/api/v1/nodes/nope").status());
            assertEquals(403, fleet.project("p1").delete("/api/v1/nodes/n2").status());
            assertEquals(204, fleet.operator.delete("/api/v1/nodes/n2").status(), "a node holding nothing goes at once");

            // the machine is reinstalled: its new agent has no credential, and the name is taken until the operator frees it
            ProtocolAgent reinstalled = fleet.agent("n1", 1024 * MiB);
            assertEquals(409, reinstalled.registerRaw().status());
            assertEquals(204, fleet.operator.delete("/api/v1/nodes/n1?force=true").status());
            assertEquals("deleted", fleet.instance(inst.id()).state());
            assertTrue(fleet.operator.get("/api/v1/nodes").as(TestFleet.NODES).isEmpty());
            assertTrue(n1.beatRaw().status() >= 400, "a removed node's heartbeats are refused");
            reinstalled.register(); // the row went, and its credential with it
            assertEquals("scrubbing", fleet.node("n1").state(), "a name registered again is a new node, offered after a clean report");
            assertTrue(n1.beatRaw().status() >= 400, "the old agent's credential is not the new node's");
            assertEquals(204, fleet.operator.delete("/api/v1/images/busybox").status());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void statesThatWaitForAnAgentHaveDeadlines(Db db) throws Exception {
        Deadlines deadlines = new Deadlines(Duration.ofMillis(1500), Duration.ofMillis(300), LONG, LONG);
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withDeadlines(deadlines))) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            ProtocolAgent n2 = fleet.availableAgent("n2", 1024 * MiB);
            // scheduled, never taken (n1's agent says nothing more)
            Api.Instance a = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            String nodeA = a.node();
            ProtocolAgent other = nodeA.equals("n1") ? n2 : n1;
            Api.Instance failedA = TestFleet.await("the scheduled deadline", () -> fleet.instance(a.id()), i -> "failed".equals(i.state()));
            assertTrue(failedA.reason().contains("scheduled deadline"), failedA.reason());

            // starting, never running
            Api.Instance b = fleet.launch(fleet.operator, "busybox", 1).getFirst();
            assertEquals(other.name, b.node());
            other.beat();
            other.take();
            other.beat();
            Api.Instance failedB = TestFleet.await("the starting deadline", () -> fleet.instance(b.id()), i -> "failed".equals(i.state()));
            assertTrue(failedB.reason().contains("starting deadline"), failedB.reason());

            // the agent reports the guest running after all: the state follows it, the failure stays in the reason and events
            other.phase("streaming");
            other.beat();
            Api.Instance recovered = fleet.instance(b.id());
            assertEquals("streaming", recovered.state());
            assertTrue(recovered.reason().contains("had failed") && recovered.reason().contains("starting deadline"), recovered.reason());
            assertTrue(fleet.events().stream().anyMatch(e -> b.id().equals(e.instanceId()) && e.type().equals("instance.failed")));
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aDestroyALiveNodeNeverConfirmsFailsAtItsDeadlineAndTheNodeWithIt(Db db) throws Exception {
        Deadlines deadlines = new Deadlines(LONG, LONG, Duration.ofMillis(300), LONG);
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withDeadlines(deadlines))) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            Api.Instance inst = running(fleet, n1, "busybox");
            fleet.operator.delete("/api/v1/instances/" + inst.id());
            // the agent keeps heartbeating "streaming": it never acts on the destroy
            Api.Instance failed = TestFleet.await("the destroying deadline", () -> {
                n1.beat();
                return fleet.instance(inst.id());
            }, i -> "failed".equals(i.state()));
            assertTrue(failed.reason().contains("destroying deadline"), failed.reason());
            assertEquals("failed", fleet.node("n1").state(), "its disk was never proved clean: nobody gets it");
            assertEquals(202, fleet.operator.delete("/api/v1/instances/" + inst.id()).status());
            assertEquals("deleted", fleet.instance(inst.id()).state());
            assertEquals(204, fleet.operator.delete("/api/v1/images/busybox").status());
        }
    }
}
