package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast agent} as a process of its own, killed with -9: the instance runs on in its own session and
 * the restarted agent supervises it again; when the instance dies too while no agent watches, the restarted
 * agent reports it failed (never forgets it, never restarts it), and a destroy still scrubs the node clean.
 */
class AgentKillTest {
    static final Duration WAIT = Duration.ofSeconds(180);

    @TempDir
    Path tmp;

    @Test
    @Timeout(600)
    void anAgentKilledWithMinus9FindsItsInstanceAgainOrReportsItFailed() throws Exception {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        Path work = tmp.resolve("n1");
        try (ClientTestProcesses procs = new ClientTestProcesses(); ControllerFixture c = new ControllerFixture(tmp)) {
            Path images = Files.createDirectories(tmp.resolve("images"));
            Files.createSymbolicLink(images.resolve("disk.img"), guest.disk());
            Path sock = procs.path("image.sock");
            procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(), "--rate", "2Gbit");
            c.addImage("busybox", NbdUri.unix(sock, "disk").toString(), guest.kernel(), guest.initrd(), guest.append());
            Path token = Files.writeString(tmp.resolve("join.token"), c.controller.joinToken() + "\n");
            List<String> cmd = List.of(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED",
                    "-Xmx256m", "-cp", System.getProperty("java.class.path"), AgentMain.class.getName(),
                    "--controller", c.controller.url(), "--join-token", token.toString(), "--name", "node-1",
                    "--work", work.toString(), "--disk-size", "64G", "--memory", "256M");

            Process agent = start(cmd, tmp.resolve("agent-1.log"));
            ControllerFixture.await(WAIT, "the node available", unchecked(c::nodes),
                    n -> n.size() == 1 && "available".equals(n.getFirst().state()));
            String id = c.launch("busybox", 1).getFirst().id();
            ControllerFixture.await(WAIT, "the instance streaming", unchecked(() -> c.instance(id)),
                    i -> "streaming".equals(i.state()) || "devirtualized".equals(i.state()));
            long pid = AgentState.load(work).instance().pid();
            String credential = NodeCredential.load(work);
            kill9(agent);
            assertTrue(Proc.running(pid), "the instance died with its agent");

            agent = start(cmd, tmp.resolve("agent-2.log"));
            Api.Instance i = ControllerFixture.await(WAIT, "the instance devirtualized under the new agent",
                    unchecked(() -> c.instance(id)), x -> "devirtualized".equals(x.state()) || "failed".equals(x.state()));
            assertEquals("devirtualized", i.state(), i.toString());
            assertEquals(pid, AgentState.load(work).instance().pid(), "the new agent must supervise the same instance, not a new one");
            assertEquals(credential, NodeCredential.load(work), "the node's credential survives its agent's restart");
            kill9(agent);

            // The instance dies too while no agent watches (a host OOM kill, say).
            Posix.killGroup(pid, Posix.SIGKILL);
            agent = start(cmd, tmp.resolve("agent-3.log"));
            Api.Instance failed = ControllerFixture.await(WAIT, "the instance reported failed", unchecked(() -> c.instance(id)),
                    x -> "failed".equals(x.state()));
            assertTrue(failed.reason() != null && !failed.reason().isBlank(), "a failure says why: " + failed);

            c.destroy(id);
            ControllerFixture.await(WAIT, "the instance deleted and the node available", unchecked(() -> List.of(c.instance(id), c.nodes())),
                    l -> "deleted".equals(((Api.Instance) l.get(0)).state()) && "available".equals(((List<?>) l.get(1)).stream()
                            .map(Api.Node.class::cast).findFirst().orElseThrow().state()));
            agent.destroy();
            assertTrue(agent.waitFor(30, TimeUnit.SECONDS), "the agent ignored SIGTERM");
            assertEquals(0, agent.exitValue(), "an agent stopped by SIGTERM exits 0");
        } finally {
            MachineTest.killSession(work);
        }
    }

    static Process start(List<String> cmd, Path log) throws IOException {
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(log.toFile()).start();
    }

    static void kill9(Process p) throws InterruptedException {
        p.destroyForcibly();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    }
}
