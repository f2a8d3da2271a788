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
import java.util.Set;
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
    static final int N = 200;
    static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

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

            List<Api.Instance> launched = c.launch("small", N);
            assertEquals(N, launched.size());
            Set<String> ids = launched.stream().map(Api.Instance::id).collect(Collectors.toSet());
            List<Api.Instance> local = ControllerFixture.await(WAIT, "every instance devirtualized", unchecked(c::instances),
                    all -> all.stream().filter(i -> ids.contains(i.id()) && "devirtualized".equals(i.state())).count() == N);
            assertEquals(N, local.stream().filter(i -> ids.contains(i.id())).map(Api.Instance::node).distinct().count(),
                    "each instance on a node of its own");
            assertTrue(local.stream().filter(i -> ids.contains(i.id())).allMatch(i -> i.fractionLocal() >= 0.999 && i.bytesBackground() > 0),
                    "progress reported");
            assertTrue(c.console(launched.getFirst().id()).contains("BMCAST-READY"), "the hollow console reaches the controller");

            for (String id : ids) c.destroy(id);
            ControllerFixture.await(WAIT, "every instance deleted and every node available", unchecked(() -> List.of(c.instances(), c.nodes())),
                    l -> ((List<?>) l.get(0)).stream().map(Api.Instance.class::cast).filter(i -> ids.contains(i.id()))
                            .filter(i -> "deleted".equals(i.state())).count() == N
                            && ((List<?>) l.get(1)).stream().map(Api.Node.class::cast).allMatch(n -> "available".equals(n.state())));
        }
    }
}
