package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast agent} processes and their node's identity (issue 12, item 2): the credential the first
 * registration gives is kept in the work directory (0600) and survives the agent's restart; a second agent with
 * the same name, or one that lost its credential, is refused with a message that says how to free the name, and
 * exits 1 instead of retrying, while the first keeps its node.
 */
class AgentIdentityTest {
    static final Duration WAIT = Duration.ofSeconds(120);
    static final String TAKEN = "bmcast: node node-1 is already registered to another agent; if this machine was reinstalled, "
            + "free the name with `bmcast node rm node-1`";

    @TempDir
    Path tmp;

    @Test
    @Timeout(400)
    void aTakenNameIsRefusedToASecondAgentAndTheCredentialSurvivesARestart() throws Exception {
        try (ControllerFixture c = new ControllerFixture(tmp)) {
            Path token = Files.writeString(tmp.resolve("join.token"), c.controller.joinToken() + "\n");
            Path first = tmp.resolve("first");
            Process a = AgentKillTest.start(agent(c, token, first), tmp.resolve("first-1.log"));
            try {
                ControllerFixture.await(WAIT, "the node available", unchecked(c::nodes), n -> n.size() == 1 && "available".equals(n.getFirst().state()));
                Path credential = first.resolve(NodeCredential.FILE);
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(credential)));
                String kept = Files.readString(credential).strip();
                assertTrue(kept.length() >= 32, kept);

                Process b = AgentKillTest.start(agent(c, token, tmp.resolve("second")), tmp.resolve("second.log"));
                assertTrue(b.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "a refused agent exits instead of retrying");
                String log = Files.readString(tmp.resolve("second.log"));
                assertEquals(1, b.exitValue(), log);
                assertTrue(log.contains(TAKEN), log);
                assertEquals(1, log.split("is already registered to another agent", -1).length - 1, "said once, as one line:\n" + log);
                assertTrue(a.isAlive(), "the first agent keeps running");
                assertEquals("available", c.nodes().getFirst().state());

                // killed and started again on the same work directory: the same node, with the same credential
                AgentKillTest.kill9(a);
                a = AgentKillTest.start(agent(c, token, first), tmp.resolve("first-2.log"));
                ControllerFixture.await(WAIT, "the restarted agent registered again", unchecked(c::events),
                        e -> e.stream().anyMatch(x -> "node.reregistered".equals(x.type())));
                String before = c.nodes().getFirst().lastHeartbeat();
                ControllerFixture.await(WAIT, "a heartbeat of the restarted agent", unchecked(c::nodes),
                        n -> !n.getFirst().lastHeartbeat().equals(before));
                assertTrue(a.isAlive(), Files.readString(tmp.resolve("first-2.log")));
                assertEquals(kept, Files.readString(credential).strip(), "the credential survives the restart");
                AgentKillTest.kill9(a);

                // a machine that lost its credential (its work directory wiped) is refused its name the same way
                Files.delete(credential);
                a = AgentKillTest.start(agent(c, token, first), tmp.resolve("first-3.log"));
                assertTrue(a.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "refused, it exits");
                String lost = Files.readString(tmp.resolve("first-3.log"));
                assertEquals(1, a.exitValue(), lost);
                assertTrue(lost.contains(TAKEN), lost);
            } finally {
                a.destroyForcibly();
            }
        }
    }

    private static List<String> agent(ControllerFixture c, Path token, Path work) {
        return List.of(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED",
                "-Xmx128m", "-cp", System.getProperty("java.class.path"), AgentMain.class.getName(),
                "--controller", c.controller.url(), "--join-token", token.toString(), "--name", "node-1",
                "--work", work.toString(), "--disk-size", "1G", "--memory", "256M");
    }
}
