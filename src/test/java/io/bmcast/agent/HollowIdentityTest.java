package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hollow nodes have identities too: a fleet that keeps its credentials in a directory, started again, speaks for the
 * same names; one that held them in memory only is refused every name and stops (no retry loop), as a second agent
 * with a taken name is.
 */
class HollowIdentityTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final int N = 5;

    @TempDir
    Path tmp;

    @Test
    @Timeout(180)
    void aHollowFleetStartedAgainKeepsItsNamesOnlyIfItKeptItsCredentials() throws Exception {
        Path keep = tmp.resolve("credentials");
        try (ControllerFixture c = new ControllerFixture(tmp)) {
            try (HollowFleet fleet = fleet(c).keepCredentialsIn(keep).start()) {
                ControllerFixture.await(WAIT, N + " nodes registered", fleet::registered, n -> n == N);
            }
            try (HollowFleet again = fleet(c).keepCredentialsIn(keep).start()) {
                ControllerFixture.await(WAIT, "the same nodes registered again", again::registered, n -> n == N);
                assertEquals(0, again.refused());
                ControllerFixture.await(WAIT, "every node heard again", unchecked(c::events),
                        e -> e.stream().filter(x -> "node.reregistered".equals(x.type())).count() == N);
            }
            try (HollowFleet forgetful = fleet(c).start()) {
                ControllerFixture.await(WAIT, "every name refused to a fleet without the credentials", forgetful::refused, n -> n == N);
                assertEquals(0, forgetful.registered());
                assertTrue(forgetful.allRefused().isDone(), "a fleet refused every name has nothing left to do");
            }
        }
    }

    private static HollowFleet fleet(ControllerFixture c) {
        return new HollowFleet(c.agentClient(), new HollowFleet.Options("hollow", N, 32L << 30, 512L << 20, 2,
                new HollowTimeline(1_000_000_000L, 2_000_000_000L)));
    }
}
