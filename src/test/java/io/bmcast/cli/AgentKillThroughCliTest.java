package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.agent.Leftovers;
import io.bmcast.agent.WorkFiles;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.storage.FileHoles;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bmcast agent} (the CLI's own entry point, a process of its own) killed with -9 while its instance
 * streams, seen as a user sees it through the CLI: while no agent heartbeats, {@code node ls} shows the node
 * offline and {@code ps} the instance {@code unknown}, never {@code streaming}; the restarted agent finds the
 * instance (which ran on meanwhile) and it de-virtualizes, its guest's self-check intact; destroyed, the node is
 * scrubbed and offered again. (The agent package's AgentKillTest covers the restarted agent's supervision of the
 * same process and the instance that died meanwhile; this one covers what the fleet shows in between.)
 */
class AgentKillThroughCliTest {
    static final Duration WAIT = Duration.ofSeconds(180);

    @TempDir
    Path tmp;

    @Test
    @Timeout(600)
    void anAgentKilledMidStreamingShowsOfflineAndUnknownThenRecovers() throws Exception {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        Path work = tmp.resolve("node-1");
        String tag = "kill" + ProcessHandle.current().pid();
        byte[] guestWrote = ("bmcast-selfcheck-wrote-" + tag).getBytes(StandardCharsets.US_ASCII);
        Process agent = null;
        try (ClientTestProcesses procs = new ClientTestProcesses();
                Controller controller = Controller.start(ControllerConfig.defaults(tmp.resolve("controller"))
                        .withHeartbeatTimeout(Duration.ofSeconds(3)))) {
            Path images = Files.createDirectories(tmp.resolve("images"));
            Files.createSymbolicLink(images.resolve("disk.img"), guest.disk());
            Path sock = procs.path("image.sock");
            // A slow link, so that the background copy is still under way when the agent is killed.
            procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(), "--rate", "20Mbit");
            Cli cli = new Cli(controller.url(), tmp.resolve("controller/admin.token"));
            cli.ok("image", "add", "busybox", "--uri", NbdUri.unix(sock, "disk").toString(), "--kernel", guest.kernel().toString(), "--initrd", guest.initrd().toString(),
                    "--append", guest.append() + " " + GuestImage.SELF_CHECK_FLAG + "=" + tag);
            List<String> agentCommand = ClientTestProcesses.bmcastCommand("agent", "--controller", controller.url(),
                    "--join-token", tmp.resolve("controller/join.token").toString(), "--name", "node-1", "--work", work.toString(),
                    "--memory", "256M");

            agent = start(agentCommand, tmp.resolve("agent-1.log"));
            Cli.await(WAIT, "node-1 available", cli::nodes, n -> n.size() == 1 && "available".equals(n.getFirst().state()));
            String id = cli.ok("launch", "--image", "busybox", "--wait", "running").strip();
            System.out.println("state when the agent is killed: " + cli.ps().getFirst().state());
            agent.destroyForcibly();
            assertTrue(agent.waitFor(10, TimeUnit.SECONDS));

            List<Object> down = Cli.await(WAIT, "node-1 offline and its instance unknown",
                    () -> List.of(cli.nodes().getFirst(), cli.ps().getFirst()),
                    l -> "offline".equals(((Api.Node) l.get(0)).state()) && "unknown".equals(((Api.Instance) l.get(1)).state()));
            Api.Instance unknown = (Api.Instance) down.get(1);
            assertTrue(List.of("streaming", "devirtualized").contains(unknown.lastKnownState()), unknown.toString());
            assertTrue(cli.ok("ps").contains("unknown"), "ps's table shows the state a user must not take for running");

            agent = start(agentCommand, tmp.resolve("agent-2.log"));
            Api.Instance local = Cli.await(WAIT, "the instance devirtualized under the restarted agent", () -> cli.ps().getFirst(),
                    i -> "devirtualized".equals(i.state()) || "failed".equals(i.state()));
            assertEquals("devirtualized", local.state(), local.toString());
            assertEquals("busy", cli.nodes().getFirst().state());
            String console = Cli.await(WAIT, "the guest's self-check", () -> cli.ok("console", id),
                    c -> c.contains(GuestImage.SELF_CHECK_LINE));
            int files = guest.checksums().size();
            assertTrue(console.contains(GuestImage.SELF_CHECK_LINE + " " + files + " of " + files + " files OK, wrote " + tag), console);

            cli.ok("destroy", id, "--wait");
            assertEquals("available", cli.nodes().getFirst().state());
            assertEquals(List.of(), WorkFiles.find(work, List.of(guestWrote)), "the guest's writes are left on the node");
            try (FileHoles disk = FileHoles.open(work.resolve("disk.img"), false)) {
                assertEquals(-1, disk.nextData(0), "a data extent is left on the node's disk");
            }
            agent.destroy();
            assertTrue(agent.waitFor(30, TimeUnit.SECONDS), "the agent ignored SIGTERM");
        } finally {
            if (agent != null) agent.destroyForcibly();
            Leftovers.killInstance(work);
        }
    }

    private static Process start(List<String> cmd, Path log) throws IOException {
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(log.toFile()).start();
    }
}
