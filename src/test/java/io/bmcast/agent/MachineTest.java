package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.AgentProtocol.InstanceReport;
import io.bmcast.fleet.InstanceState;
import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.storage.FileHoles;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The machine side of the agent with a real busybox guest streamed from a real image server: it starts the
 * instance as {@code instance run} does, follows it to devirtualized, survives its agent (a second one on the
 * same WORK supervises the same process), and on destroy powers it off and scrubs until no byte of the image is
 * left in any file under WORK.
 */
class MachineTest {
    static final long GIB = 1L << 30;
    static final Duration PHASE = Duration.ofSeconds(180);

    @TempDir
    Path tmp;

    @Test
    @Timeout(420)
    void instanceStreamsDevirtualizesSurvivesItsAgentAndIsScrubbedAway() throws Exception {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        List<byte[]> needles = needles(guest);
        Path work = tmp.resolve("w");
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path images = Files.createDirectories(tmp.resolve("images"));
            Files.createSymbolicLink(images.resolve("disk.img"), guest.disk());
            Path sock = procs.path("image.sock");
            procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(), "--rate", "2Gbit");
            ImageSpec image = new ImageSpec("busybox", NbdUri.unix(sock, "disk").toString(), guest.diskSize(), 0,
                    "/api/v1/images/busybox/kernel", "/api/v1/images/busybox/initrd", guest.append());
            BootSource boot = spec -> new BootSource.Local(guest.kernel(), guest.initrd());
            Machine.Config config = new Machine.Config(work, null, guest.diskSize() * 2, 256L << 20, Duration.ofSeconds(10), List.of());

            Machine first = new Machine(config, "machine-1", boot).open();
            long pid = 0;
            try {
                assertTrue(first.diskClean(), "a brand-new disk is clean");
                first.start("i-1", image);
                InstanceReport r = await(first, p -> p == InstanceState.STREAMING || p == InstanceState.DEVIRTUALIZED);
                assertNotNull(r);
                assertFalse(first.diskClean());
                pid = Long.parseLong(Files.readString(work.resolve(AgentState.FILE)).replaceAll("(?s).*\"pid\"\\s*:\\s*(\\d+).*", "$1"));
                assertTrue(Proc.running(pid), "the instance runs as pid " + pid);
            } finally {
                first.close(); // the agent goes away; the instance must not
            }
            assertTrue(Proc.running(pid), "the instance died with its agent");

            try (Machine second = new Machine(config, "machine-2", boot).open()) {
                assertEquals("i-1", second.instanceId(), "the restarted agent forgot its instance");
                InstanceReport r = await(second, p -> p == InstanceState.DEVIRTUALIZED);
                assertTrue(r.fractionLocal() >= 0.999, "devirtualized with the disk not all local: " + r);
                assertTrue(r.bytesOnDemand() + r.bytesBackground() > 0, r.toString());
                awaitConsole(second, guest.readyMarker());
                assertTrue(Proc.running(pid), "the same process still runs the instance");
                assertFalse(WorkFiles.find(work, needles).isEmpty(),
                        "the image's data should be on the machine's disk before the destroy (or the search below proves nothing)");

                second.destroy();
                InstanceReport gone = await(second, p -> p == InstanceState.DELETED || p == InstanceState.FAILED);
                assertEquals(InstanceState.DELETED.wire(), gone.phase(), "destroy ended " + gone);
                assertTrue(second.diskClean(), "deleted but not clean");
                Scrubber.Outcome o = second.lastScrub();
                System.out.printf("scrub after the instance: %.3f s for a %d GiB disk%n", o.seconds(), second.disk().size() / GIB);
            }
            assertFalse(Proc.running(pid), "the instance process outlived its destroy");
            assertTrue(WorkFiles.find(work, needles).isEmpty(), "image data left under WORK: " + WorkFiles.find(work, needles));
            try (FileHoles f = FileHoles.open(work.resolve("disk.img"), false)) {
                assertEquals(-1, f.nextData(0), "a data extent is left on the disk");
            }
            assertFalse(Files.exists(work.resolve("instance")), "the instance's files are still there");
        } finally {
            killSession(work);
        }
    }

    /** Whatever the test left: the instance's session (its JVM, mediator and QEMU) is killed. */
    static void killSession(Path work) {
        try {
            AgentState s = AgentState.load(work);
            if (s != null && s.instance() != null && s.instance().pid() > 1) Posix.killGroup(s.instance().pid(), Posix.SIGKILL);
        } catch (Exception ignored) {
            // nothing left to kill
        }
    }

    @Test
    @Timeout(60)
    void anImageLargerThanTheDiskFailsWithAClearReason() throws Exception {
        Machine.Config config = new Machine.Config(tmp.resolve("w"), null, GIB, 256L << 20, Duration.ofSeconds(1), List.of());
        try (Machine m = new Machine(config, "machine", spec -> new BootSource.Local(null, null)).open()) {
            m.start("i-big", new ImageSpec("big", "nbd+unix:///disk?socket=/nonexistent", 32 * GIB, GIB, null, null, null));
            InstanceReport r = await(m, p -> p == InstanceState.FAILED);
            assertTrue(r.reason().contains("larger than this machine's disk"), r.reason());
            assertTrue(m.diskClean() || !Files.exists(tmp.resolve("w/instance")), "nothing was started");
        }
    }

    @Test
    @Timeout(60)
    void anAssignmentWithoutAnImageFailsWithAClearReason() throws Exception {
        Machine.Config config = new Machine.Config(tmp.resolve("w"), null, GIB, 256L << 20, Duration.ofSeconds(1), List.of());
        try (Machine m = new Machine(config, "machine", spec -> new BootSource.Local(null, null)).open()) {
            m.start("i-orphan", null);
            InstanceReport r = await(m, p -> p == InstanceState.FAILED);
            assertTrue(r.reason().contains("i-orphan") && r.reason().contains("image was removed"), r.reason());
            assertTrue(m.diskClean() || !Files.exists(tmp.resolve("w/instance")), "nothing was started");
        }
    }

    @Test
    @Timeout(60)
    void anOrderedScrubCountsTheDiskDirtyUntilANewScrubIsVerified() throws Exception {
        Machine.Config config = new Machine.Config(tmp.resolve("w"), null, GIB, 256L << 20, Duration.ofSeconds(1), List.of());
        try (Machine m = new Machine(config, "machine", spec -> new BootSource.Local(null, null)).open()) {
            assertTrue(m.diskClean(), "a disk this agent created is clean");
            assertEquals(null, m.lastScrub());
            m.rescrub();
            assertFalse(m.diskClean(), "not clean from the order on");
            for (int i = 0; i < 600 && !m.diskClean(); i++) Thread.sleep(50);
            assertTrue(m.diskClean(), "the scrub never finished");
            assertNotNull(m.lastScrub());
            assertTrue(m.lastScrub().clean());
        }
    }

    /** Pieces of the image's test data (pseudo-random, so they occur nowhere else). */
    static List<byte[]> needles(GuestImage guest) throws Exception {
        List<byte[]> out = new ArrayList<>();
        for (String name : guest.checksums().keySet()) {
            byte[] data = Ext4Image.readFile(guest.disk(), guest.dataDir() + "/" + name);
            for (int off = 0; off + 64 <= data.length && out.size() < 16; off += Math.max(64, data.length / 4)) {
                out.add(Arrays.copyOfRange(data, off, off + 64));
            }
        }
        assertFalse(out.isEmpty(), "the guest has no test data");
        return out;
    }

    /** The console from its start, once it holds {@code text}. */
    static String awaitConsole(Machine m, String text) throws InterruptedException {
        long deadline = System.nanoTime() + PHASE.toNanos();
        String c = "";
        while (System.nanoTime() < deadline) {
            c = m.observe(0).console();
            if (c.contains(text)) return c;
            Thread.sleep(200);
        }
        fail("the console never showed '" + text + "': " + c);
        return c;
    }

    static InstanceReport await(Machine m, Predicate<InstanceState> phase) throws InterruptedException {
        long deadline = System.nanoTime() + PHASE.toNanos();
        InstanceReport r = null;
        while (System.nanoTime() < deadline) {
            r = m.observe(0);
            if (r != null && phase.test(InstanceState.fromWire(r.phase()))) return r;
            if (r != null && "failed".equals(r.phase())) fail("the instance failed: " + r.reason());
            Thread.sleep(100);
        }
        fail("timed out; last report: " + r);
        return null;
    }
}
