package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.InstanceReport;
import io.bmcast.fleet.AgentProtocol.Report;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Node identity (issue 12, item 2), against the real controller over HTTP on H2 and PostgreSQL: the join token lets
 * a machine join, but only a node's own agent (its credential) is heard for it, a taken name is refused to a second
 * agent, and a delayed report cannot undo a newer one.
 */
class NodeIdentityTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void aForgedHeartbeatCannotFailAnotherNodesInstanceNorWriteItsConsole(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent victim = fleet.availableAgent("victim", 1024 * MiB);
            String id = fleet.launch(fleet.operator, "busybox", 1).getFirst().id();
            victim.beat();
            victim.take();
            victim.phase("streaming");
            victim.print("tenant secret output\n");
            victim.beat();
            assertEquals("streaming", fleet.instance(id).state());
            String console = fleet.operator.get("/api/v1/instances/" + id + "/console").body();

            // The attacker holds the join token, and a node of its own (so a credential, just not the victim's).
            ProtocolAgent attacker = fleet.availableAgent("attacker", 1024 * MiB);
            Report forged = new Report("victim", Long.MAX_VALUE, new InstanceReport(id, "failed", "forged", 0, 0, 0,
                    victim.report().instance().consoleOffset(), "forged console line\n"), true);
            ApiClient join = new ApiClient(fleet.controller.url(), fleet.controller.joinToken());

            ApiClient.Response none = join.post("/api/v1/agent/heartbeat", forged);
            assertEquals(401, none.status(), none.body());
            assertTrue(none.error().contains(AgentProtocol.CREDENTIAL_HEADER), none.body());
            ApiClient.Response other = attacker.send("/api/v1/agent/heartbeat", forged);
            assertEquals(403, other.status(), other.body());
            assertEquals("this credential is not node victim's: only the agent that registered victim may report for it", other.error());
            ApiClient.Response guessed = join.post("/api/v1/agent/heartbeat", forged, AgentProtocol.CREDENTIAL_HEADER, "bmn_" + "0".repeat(64));
            assertEquals(403, guessed.status(), guessed.body());

            assertEquals("streaming", fleet.instance(id).state(), "a forged heartbeat must not fail another tenant's instance");
            assertEquals(console, fleet.operator.get("/api/v1/instances/" + id + "/console").body(), "nor write its console");
            assertTrue(fleet.events().stream().noneMatch(e -> e.message().contains("forged")), "nor leave a trace in the events");

            // Nor can the join token take the name over by registering it again.
            ApiClient.Response takeover = join.post("/api/v1/agent/register", new AgentProtocol.Hello("victim", 1024 * MiB, 1L << 30, 2, "kvm", true));
            assertEquals(409, takeover.status(), takeover.body());
            // the victim's agent is still heard and still drives its instance
            victim.phase("devirtualized");
            victim.beat();
            assertEquals("devirtualized", fleet.instance(id).state());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aSecondAgentWithATakenNameIsRefusedWhileTheFirstKeepsRunning(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent first = fleet.agent("rack1-01", 1024 * MiB);
            AgentProtocol.Welcome welcome = first.register();
            assertNotNull(welcome.credential(), "a first registration issues the node its credential");
            assertTrue(welcome.credential().length() >= 32, "at least 128 random bits: " + welcome.credential());
            first.beat();
            String id = fleet.launch(fleet.operator, "busybox", 1).getFirst().id();
            first.beat();
            first.take();
            first.beat();

            ProtocolAgent second = fleet.agent("rack1-01", 1024 * MiB);
            ApiClient.Response refused = second.registerRaw();
            assertEquals(409, refused.status(), refused.body());
            assertEquals("node rack1-01 is already registered to another agent; if this machine was reinstalled, free the name "
                    + "with `bmcast node rm rack1-01`", refused.error());
            second.credential("bmn_" + "1".repeat(64)); // a wrong credential is no better than none
            assertEquals(409, second.registerRaw().status());

            // The first keeps the name, its instance and its credential: registering again needs and keeps it.
            AgentProtocol.Welcome again = first.register();
            assertNull(again.credential(), "a credential is shown once, at the first registration");
            first.phase("streaming");
            first.beat();
            assertEquals("streaming", fleet.instance(id).state());
            assertEquals("rack1-01", fleet.instance(id).node());
            assertEquals(1, fleet.operator.get("/api/v1/nodes").as(TestFleet.NODES).size());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aDelayedReportDoesNotMoveStateBack(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent n1 = fleet.agent("n1", 1024 * MiB);
            n1.register();
            assertEquals("scrubbing", fleet.node("n1").state());
            // A report of a disk not yet clean, delayed on the way; the next one (clean) arrives first.
            n1.scrubbed();
            n1.forget();
            Report dirty = new Report("n1", n1.report().seq(), null, false);
            n1.beat();
            assertEquals("available", fleet.node("n1").state());
            ApiClient.Response late = n1.send("/api/v1/agent/heartbeat", dirty);
            assertEquals(200, late.status(), late.body());
            assertNull(late.as(AgentProtocol.Directive.class).assignment(), "a delayed report is still answered");
            assertEquals("available", fleet.node("n1").state(), "a delayed report must not make a clean node dirty again");

            // The same for an instance's progress, and for a report sent twice (an equal number).
            String id = fleet.launch(fleet.operator, "busybox", 1).getFirst().id();
            n1.beat();
            n1.take();
            n1.phase("streaming");
            n1.progress(1 * MiB, 0, 0.25);
            Report early = n1.report();
            n1.progress(2 * MiB, 6 * MiB, 1.0);
            n1.phase("devirtualized");
            Report newer = n1.report();
            assertEquals(200, n1.send("/api/v1/agent/heartbeat", newer).status());
            assertEquals(200, n1.send("/api/v1/agent/heartbeat", early).status());
            Api.Instance i = fleet.instance(id);
            assertEquals("devirtualized", i.state());
            assertEquals(1.0, i.fractionLocal(), "progress must not go back: " + i);
            n1.failed("a report sent twice");
            Report failed = n1.report();
            Report replay = new Report(failed.name(), newer.seq(), failed.instance(), failed.diskClean());
            assertEquals(200, n1.send("/api/v1/agent/heartbeat", replay).status());
            assertNotEquals("failed", fleet.instance(id).state(), "a report whose number was used already is not applied");
            assertEquals(200, n1.send("/api/v1/agent/heartbeat", failed).status());
            assertEquals("failed", fleet.instance(id).state(), "a newer one is");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aNodeFromBeforeCredentialsIsClaimedByTheFirstAgentToRegisterAfterTheUpgrade(Db db) throws Exception {
        String url = db == Db.POSTGRESQL ? PostgresFixture.shared().newDatabase()
                : "jdbc:h2:file:" + dir.toAbsolutePath().resolve("v1") + ";WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE";
        // a fleet database as version 1 left it: a node registered, no credential anywhere
        org.flywaydb.core.Flyway.configure().dataSource(url, null, null).locations("classpath:db/migration").target("1").load().migrate();
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(url);
             java.sql.Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO nodes (name, state, disk_bytes, memory_bytes, cpus, accel, simulated, instance_id, registered_at,"
                    + " updated_at) VALUES ('old-1', 'available', " + 1024 * MiB + ", 0, 2, 'kvm', FALSE, NULL, 1, 1)");
            if (db == Db.H2) st.execute("SHUTDOWN");
        }
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withJdbcUrl(url))) {
            ProtocolAgent old = fleet.agent("old-1", 1024 * MiB);
            ApiClient.Response unclaimed = old.beatRaw();
            assertEquals(401, unclaimed.status(), "no credential, no heartbeat, even for a node from before: " + unclaimed.body());
            assertNotNull(old.register().credential(), "the first registration after the upgrade claims the name");
            assertEquals(409, fleet.agent("old-1", 1024 * MiB).registerRaw().status(), "and the second is refused");
            old.beat();
            assertEquals("available", fleet.node("old-1").state(), "the node kept its state");
        }
    }
}
