package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's {@code node scrub} against a real agent (its own sparse disk, no guest needed): the agent scrubs
 * again although it believes its disk clean, says so (a "not clean" report, even when the scrub takes less than one
 * heartbeat), and the node is offered again only after that new scrub is verified.
 */
class AgentOrderedScrubTest {
    static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void aRealAgentScrubsAgainWhenTheOperatorOrdersIt() throws Exception {
        try (ControllerFixture c = new ControllerFixture(tmp)) {
            Machine.Config config = new Machine.Config(tmp.resolve("n1"), null, 1L << 30, 256L << 20, Duration.ofSeconds(1), List.of());
            try (Agent agent = new Agent("node-1", config, c.agentClient()).start()) {
                ControllerFixture.await(WAIT, "the node available", unchecked(c::nodes),
                        n -> n.size() == 1 && "available".equals(n.getFirst().state()));
                c.orderScrub("node-1");
                ControllerFixture.await(WAIT, "the agent's acknowledgement of the ordered scrub", unchecked(c::eventsText),
                        e -> e.contains("scrubbing as ordered"));
                ControllerFixture.await(WAIT, "the node available after its new verified scrub", unchecked(c::nodes),
                        n -> "available".equals(n.getFirst().state()) && !n.getFirst().mustScrub());
                assertTrue(agent.machine().lastScrub() != null && agent.machine().lastScrub().clean(), "the agent scrubbed");
            }
        }
    }
}
