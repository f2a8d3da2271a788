package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** An idle node's long-poll heartbeat: held while there is nothing to do, answered as soon as a launch claims the node. */
class LongPollTest {
    /** Long enough that a poll answered at the end of its wait would make the test wait for it: none is. */
    private static final Duration INTERVAL = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void anIdleNodeHearsOfItsInstanceWhenTheLaunchClaimsIt(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withHeartbeatInterval(INTERVAL).withHeartbeatTimeout(INTERVAL.multipliedBy(3)));
                var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            fleet.addImage("busybox", "small");
            CompletableFuture<ApiClient.Response> poll = CompletableFuture.supplyAsync(() -> n1.send(
                    "/api/v1/agent/heartbeat?wait=" + INTERVAL.toMillis(), n1.report()), threads);
            // the poll is held: a launch placed now is what answers it
            TestFleet.await("the node to stay available while polled", () -> fleet.node("n1"), n -> n.state().equals("available"));
            Thread.sleep(300);
            Api.Instance launched = fleet.launch(fleet.operator, "busybox", 1).getFirst();

            ApiClient.Response r = poll.get(20, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.body());
            Directive d = r.as(Directive.class);
            assertNotNull(d.assignment(), "the held heartbeat answers with the new instance");
            assertEquals(launched.id(), d.assignment().instanceId());
            assertEquals(AgentProtocol.DESIRED_RUNNING, d.assignment().desired());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aNodeWithWorkIsAnsweredAtOnceAndABadWaitIsRefused(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withHeartbeatInterval(INTERVAL).withHeartbeatTimeout(INTERVAL.multipliedBy(3)))) {
            ProtocolAgent n1 = fleet.availableAgent("n1", 1024 * MiB);
            fleet.addImage("busybox", "small");
            List<Api.Instance> one = fleet.launch(fleet.operator, "busybox", 1);
            ApiClient.Response r = CompletableFuture.supplyAsync(() -> n1.send("/api/v1/agent/heartbeat?wait=" + INTERVAL.toMillis(),
                    n1.report())).get(20, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.body());
            assertEquals(one.getFirst().id(), r.as(Directive.class).assignment().instanceId(), "a node with work is not held");

            ApiClient.Response bad = n1.send("/api/v1/agent/heartbeat?wait=soon", n1.report());
            assertEquals(400, bad.status(), bad.body());
            assertNull(n1.last.assignment(), "before the launch, the node had nothing to do");
        }
    }
}
