package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One real agent, one real busybox instance, one real controller: the node registers and is offered, the
 * instance launched through the API streams, survives its agent being replaced mid-way, de-virtualizes, shows
 * its console through the controller, and destroyed through the API is powered off and scrubbed until no byte
 * of the image is left under the agent's WORK, and the node is available again.
 */
class AgentEndToEndTest {
    static final Duration WAIT = Duration.ofSeconds(180);

    @TempDir
    Path tmp;

    @Test
    @Timeout(600)
    void aRealInstanceFromLaunchToScrubbedNode() throws Exception {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        List<byte[]> needles = MachineTest.needles(guest);
        Path work = tmp.resolve("n1");
        try (ClientTestProcesses procs = new ClientTestProcesses(); ControllerFixture c = new ControllerFixture(tmp)) {
            Path images = Files.createDirectories(tmp.resolve("images"));
            Files.createSymbolicLink(images.resolve("disk.img"), guest.disk());
            Path sock = procs.path("image.sock");
            procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(), "--rate", "2Gbit");
            c.addImage("busybox", NbdUri.unix(sock, "disk").toString(), guest.kernel(), guest.initrd(), guest.append());
            Machine.Config config = new Machine.Config(work, null, 2 * guest.diskSize(), 256L << 20, Duration.ofSeconds(10), List.of());

            Agent first = new Agent("node-1", config, c.agentClient()).start();
            String id;
            try {
                ControllerFixture.await(WAIT, "the node available", unchecked(c::nodes),
                        n -> n.size() == 1 && "available".equals(n.getFirst().state()));
                assertEquals(2 * guest.diskSize(), c.nodes().getFirst().diskBytes());
                id = c.launch("busybox", 1).getFirst().id();
                ControllerFixture.await(WAIT, "the instance streaming", unchecked(() -> c.instance(id)),
                        i -> "streaming".equals(i.state()) || "devirtualized".equals(i.state()));
            } finally {
                first.close(); // the agent goes away mid-deployment; the instance must not
            }

            try (Agent second = new Agent("node-1", config, c.agentClient()).start()) {
                Api.Instance i = ControllerFixture.await(WAIT, "the instance devirtualized", unchecked(() -> c.instance(id)),
                        x -> "devirtualized".equals(x.state()) || "failed".equals(x.state()));
                assertEquals("devirtualized", i.state(), "the instance: " + i);
                assertEquals("node-1", i.node());
                assertTrue(i.fractionLocal() >= 0.999 && i.bytesOnDemand() + i.bytesBackground() > 0, i.toString());
                ControllerFixture.await(WAIT, "the guest's console at the controller", unchecked(() -> c.console(id)),
                        con -> con.contains(guest.readyMarker()));
                assertFalse(WorkFiles.find(work, needles).isEmpty(), "the image's data should be on the node's disk by now");

                c.destroy(id);
                ControllerFixture.await(WAIT, "the instance deleted and the node available", unchecked(() -> List.of(c.instance(id), c.nodes())),
                        l -> "deleted".equals(((Api.Instance) l.get(0)).state()) && "available".equals(((List<?>) l.get(1)).stream()
                                .map(Api.Node.class::cast).findFirst().orElseThrow().state()));
                assertTrue(second.machine().lastScrub().clean());
                // The operator sees what the scrub did and how long it took in the instance's deletion event.
                String deletedEvent = c.events().stream().filter(e -> "instance.deleted".equals(e.type()) && id.equals(e.instanceId()))
                        .map(Api.Event::message).findFirst().orElseThrow();
                assertTrue(deletedEvent.contains("disk scrubbed and verified in ") && deletedEvent.contains("SEEK_DATA"), deletedEvent);
                System.out.printf("scrub of the node's %d GiB disk after the instance: %.3f s%n", second.machine().disk().size() >> 30,
                        second.machine().lastScrub().seconds());
            }
            assertTrue(WorkFiles.find(work, needles).isEmpty(), "image data left under WORK: " + WorkFiles.find(work, needles));
            try (Stream<Path> cached = Files.walk(work.resolve("cache"))) {
                // kept by ETag (their SHA-256): the kernel and the initrd, once each however many launches
                assertEquals(2, cached.filter(p -> p.getFileName().toString().matches("[0-9a-f]{64}")).count(),
                        "the kernel and initrd, fetched once, are cached");
            }
        } finally {
            MachineTest.killSession(work);
        }
    }
}
