package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.testing.TestServer;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * 200 hollow nodes in this JVM against a real controller: all register, 200 instances launched at once go
 * through the real phases to devirtualized on 200 distinct nodes, and destroyed at once they are scrubbed
 * and every node is available again.
 */
class HollowFleetTest {
    /** 200 in the suite; {@code -Dbmcast.hollow.count=1000} for the scale the issue asks one process to hold. */
    static final int N = Integer.getInteger("bmcast.hollow.count", 200);
    static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

    /** How many of {@code ids} are in each state (what a failure message can show for a thousand instances). */
    static Map<String, Long> byState(List<Api.Instance> all, Set<String> ids) {
        return all.stream().filter(i -> ids.contains(i.id()))
                .collect(Collectors.groupingBy(Api.Instance::state, TreeMap::new, Collectors.counting()));
    }

    @Test
    @Timeout(300)
    void twoHundredHollowNodesLaunchAndDestroyAtOnce() throws Exception {
        Path img = tmp.resolve("small.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(64L << 20);
            f.write(new byte[1 << 20]);
        }
        try (TestServer images = TestServer.on(tmp).file("small", img, false).tcp().start();
                ControllerFixture c = new ControllerFixture(tmp);
                HollowFleet fleet = new HollowFleet(c.agentClient(), new HollowFleet.Options("hollow", N, 32L << 30, 512L << 20, 2,
                        new HollowTimeline(1_000_000_000L, 2_000_000_000L))).start()) {
            c.addImage("small", images.uri("small"));
            ControllerFixture.await(WAIT, N + " nodes available", unchecked(c::nodes),
                    nodes -> nodes.stream().filter(n -> "available".equals(n.state())).count() == N);

            long launchedAt = System.nanoTime();
            List<Api.Instance> launched = c.launch("small", N);
            assertEquals(N, launched.size());
            Set<String> ids = launched.stream().map(Api.Instance::id).collect(Collectors.toSet());
            ControllerFixture.await(WAIT, "every instance devirtualized", unchecked(() -> byState(c.instances(), ids)),
                    states -> states.getOrDefault("devirtualized", 0L) == N);
            List<Api.Instance> local = c.instances();
            System.out.printf("%d hollow nodes: launch request to all devirtualized %.1f s (local-after 2 s)%n", N,
                    (System.nanoTime() - launchedAt) / 1e9);
            assertEquals(N, local.stream().filter(i -> ids.contains(i.id())).map(Api.Instance::node).distinct().count(),
                    "each instance on a node of its own");
            assertTrue(local.stream().filter(i -> ids.contains(i.id())).allMatch(i -> i.fractionLocal() >= 0.999 && i.bytesBackground() > 0),
                    "progress reported");
            assertTrue(c.console(launched.getFirst().id()).contains("BMCAST-READY"), "the hollow console reaches the controller");

            long t0 = System.nanoTime();
            for (String id : ids) c.destroy(id);
            ControllerFixture.await(WAIT, "every instance deleted and every node available",
                    unchecked(() -> List.of(byState(c.instances(), ids), c.nodes().stream()
                            .collect(Collectors.groupingBy(Api.Node::state, TreeMap::new, Collectors.counting())))),
                    l -> l.get(0).getOrDefault("deleted", 0L) == N && l.get(1).getOrDefault("available", 0L) == N);
            System.out.printf("%d hollow nodes: destroy requests to all available %.1f s%n", N, (System.nanoTime() - t0) / 1e9);
        }
    }
}
