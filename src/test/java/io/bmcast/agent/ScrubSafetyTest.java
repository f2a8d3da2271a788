package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.AgentProtocol.InstanceReport;
import io.bmcast.fleet.InstanceState;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.storage.FileHoles;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, item 1: a disk is never scrubbed while anything of the previous tenant still holds it. An
 * instance-like process tree is started by the agent's own spawn path (its session, its marker), its leader is
 * killed with -9 so that a child holding the disk open survives (as QEMU does when {@code instance run} is OOM
 * killed), and a restarted agent's destroy must kill the survivor before it scrubs; and a process that is not the
 * instance's holding the disk makes the scrub refuse, naming it, until it is gone.
 */
class ScrubSafetyTest {
    static final long GIB = 1L << 30;
    static final ImageSpec IMAGE = new ImageSpec("img", "nbd+unix:///disk?socket=/nonexistent", GIB / 2, 0, null, null, null);
    static final Duration PHASE = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(120)
    void aSurvivorOfALeaderKilledWithMinus9IsKilledBeforeTheScrub() throws Exception {
        survivorIsKilledBeforeTheScrub(true);
    }

    @Test
    @Timeout(120)
    void anInstanceWhosePidWasNeverSavedIsFoundAndKilledBeforeTheScrub() throws Exception {
        survivorIsKilledBeforeTheScrub(false);
    }

    /** @param pidSaved false: the agent died between the spawn and saving the pid (the state says pid 0) */
    private void survivorIsKilledBeforeTheScrub(boolean pidSaved) throws Exception {
        Path work = tmp.resolve("w");
        Machine.Config config = new Machine.Config(work, null, GIB, 256L << 20, Duration.ofSeconds(1), List.of());
        MachineDisk disk = MachineDisk.sparseFile(work.resolve("disk.img"), GIB);
        ScrubberTest.writeRandomAt(disk.path(), GIB, 8, 64 << 10, 7);
        InstanceFiles files = InstanceFiles.under(work);
        // The leader waits; its child holds the disk open read-write, as the mediator and QEMU do.
        InstanceProcess leader = InstanceProcess.spawnProgram(List.of("sh", "-c", "(exec 3<>\"$0\"; exec sleep 600) & wait", disk.path().toString()), files);
        long survivor = 0;
        try {
            survivor = awaitHolder(disk.path());
            new AgentState(new AgentState.Held("i-1", IMAGE, pidSaved ? leader.pid() : 0, pidSaved ? leader.startedAtMillis() : 0,
                    null, null, false), false, List.of("i-1")).save(work);
            Posix.killProcess(leader.pid(), Posix.SIGKILL);
            awaitGone(leader.pid());
            assertTrue(Proc.running(survivor), "the child holding the disk must outlive its leader for this test to mean anything");

            try (Machine m = new Machine(config, "machine", spec -> new BootSource.Local(null, null)).open()) {
                m.destroy();
                InstanceReport r = await(m, p -> p == InstanceState.DELETED || p == InstanceState.FAILED);
                assertEquals(InstanceState.DELETED.wire(), r.phase(), "destroy ended " + r.phase() + ": " + r.reason());
                assertTrue(m.diskClean());
                assertTrue(m.lastScrub().clean(), m.lastScrub().reason());
            }
            assertFalse(Proc.running(survivor), "the instance's child (pid " + survivor + ") still runs after its disk was scrubbed");
            assertTrue(DiskHolders.find(disk.path()).isEmpty(), "the disk is still held: " + DiskHolders.find(disk.path()));
            try (FileHoles f = FileHoles.open(disk.path(), false)) {
                assertEquals(-1, f.nextData(0), "a data extent is left on the disk");
            }
        } finally {
            if (survivor > 1 && Proc.running(survivor)) Posix.killProcess(survivor, Posix.SIGKILL);
            if (Proc.running(leader.pid())) Posix.killProcess(leader.pid(), Posix.SIGKILL);
        }
    }

    /** The same with the real thing: {@code instance run} killed with -9 while its mediator and QEMU stream the guest. */
    @Test
    @Timeout(420)
    void aRealInstanceWhoseJvmWasKilledWithMinus9LeavesNothingBehindItsScrub() throws Exception {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        List<byte[]> needles = MachineTest.needles(guest);
        Path work = tmp.resolve("w");
        List<Long> survivors = new ArrayList<>();
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path images = Files.createDirectories(tmp.resolve("images"));
            Files.createSymbolicLink(images.resolve("disk.img"), guest.disk());
            Path sock = procs.path("image.sock");
            procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(), "--rate", "2Gbit");
            ImageSpec image = new ImageSpec("busybox", NbdUri.unix(sock, "disk").toString(), guest.diskSize(), 0, null, null, guest.append());
            BootSource boot = spec -> new BootSource.Local(guest.kernel(), guest.initrd());
            Machine.Config config = new Machine.Config(work, null, guest.diskSize() * 2, 256L << 20, Duration.ofSeconds(5), List.of());
            long leader;
            try (Machine first = new Machine(config, "machine-1", boot).open()) {
                first.start("i-1", image);
                MachineTest.await(first, p -> p == InstanceState.STREAMING || p == InstanceState.DEVIRTUALIZED);
                leader = AgentState.load(work).instance().pid();
            }
            survivors.addAll(Proc.groupMembers(leader));
            survivors.remove(leader);
            assertFalse(survivors.isEmpty(), "the instance has no mediator or QEMU");
            Posix.killProcess(leader, Posix.SIGKILL);
            awaitGone(leader);
            for (long pid : survivors) assertTrue(Proc.running(pid), "pid " + pid + " died with its leader: nothing to prove");

            try (Machine second = new Machine(config, "machine-2", boot).open()) {
                second.destroy();
                InstanceReport r = await(second, p -> p == InstanceState.DELETED || p == InstanceState.FAILED);
                assertEquals(InstanceState.DELETED.wire(), r.phase(), "destroy ended " + r.phase() + ": " + r.reason());
            }
            for (long pid : survivors) assertFalse(Proc.running(pid), "pid " + pid + " of the instance outlived the scrub");
            assertTrue(WorkFiles.find(work, needles).isEmpty(), "image data left under WORK: " + WorkFiles.find(work, needles));
        } finally {
            for (long pid : survivors) if (Proc.running(pid)) Posix.killProcess(pid, Posix.SIGKILL);
            MachineTest.killSession(work);
        }
    }

    @Test
    @Timeout(120)
    void aProcessThatIsNotTheInstancesHoldingTheDiskBlocksTheScrubUntilItIsGone() throws Exception {
        Path work = tmp.resolve("w");
        Machine.Config config = new Machine.Config(work, null, GIB, 256L << 20, Duration.ofSeconds(1), List.of());
        MachineDisk disk = MachineDisk.sparseFile(work.resolve("disk.img"), GIB);
        ScrubberTest.writeRandomAt(disk.path(), GIB, 8, 64 << 10, 8);
        // Not the instance's: no marker, its own session, and a command line that does not name the disk.
        Process holder = new ProcessBuilder("setsid", "sh", "-c", "exec 3<disk.img; exec sleep 600").directory(work.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            long pid = awaitHolder(disk.path());
            new AgentState(new AgentState.Held("i-1", IMAGE, 0, 0, null, null, false), false, List.of("i-1")).save(work);
            try (Machine m = new Machine(config, "machine", spec -> new BootSource.Local(null, null)).open()) {
                m.destroy();
                InstanceReport r = await(m, p -> p == InstanceState.DELETED || p == InstanceState.FAILED);
                assertEquals(InstanceState.FAILED.wire(), r.phase(), "the disk was scrubbed while another process held it open");
                String reason = r.reason();
                assertNotNull(reason);
                assertTrue(reason.startsWith("scrub refused: " + disk.path() + " is open by pid " + pid + " (sleep 600)"), reason);
                assertFalse(m.diskClean(), "a refused scrub left the disk clean");
                assertTrue(Proc.running(pid), "a process that is not the instance's must not be killed, only reported");
                try (FileHoles f = FileHoles.open(disk.path(), false)) {
                    assertNotEquals(-1, f.nextData(0), "the disk was wiped while it was held");
                }

                holder.destroyForcibly();
                assertTrue(holder.waitFor(10, TimeUnit.SECONDS));
                // What the agent does on a later reconcile (see Reconcile: a failed destroy is tried again).
                awaitIdle(m);
                m.destroy();
                InstanceReport again = await(m, p -> p == InstanceState.DELETED || p == InstanceState.FAILED);
                assertEquals(InstanceState.DELETED.wire(), again.phase(), "the retry ended " + again.phase() + ": " + again.reason());
                assertTrue(m.diskClean());
            }
            try (FileHoles f = FileHoles.open(disk.path(), false)) {
                assertEquals(-1, f.nextData(0), "a data extent is left on the disk");
            }
        } finally {
            holder.destroyForcibly();
        }
    }

    /** The pid of the (one) process holding {@code disk} open, once there is one. */
    static long awaitHolder(Path disk) throws Exception {
        for (int i = 0; i < 500; i++) {
            List<String> h = DiskHolders.find(disk);
            if (!h.isEmpty()) return Long.parseLong(h.getFirst().replaceAll("^open by pid (\\d+) .*$", "$1"));
            Thread.sleep(20);
        }
        fail("nothing ever opened " + disk);
        return 0;
    }

    static void awaitGone(long pid) throws InterruptedException {
        for (int i = 0; i < 500 && Proc.running(pid); i++) Thread.sleep(20);
        assertFalse(Proc.running(pid), "pid " + pid + " did not die");
    }

    static void awaitIdle(Machine m) throws InterruptedException {
        for (int i = 0; i < 600 && m.busy(); i++) Thread.sleep(50);
        assertFalse(m.busy(), "the machine's step never ended");
    }

    static InstanceReport await(Machine m, java.util.function.Predicate<InstanceState> phase) throws InterruptedException {
        long deadline = System.nanoTime() + PHASE.toNanos();
        InstanceReport r = null;
        while (System.nanoTime() < deadline) {
            r = m.observe(0);
            if (r != null && !m.busy() && phase.test(InstanceState.fromWire(r.phase()))) return r;
            Thread.sleep(50);
        }
        fail("timed out; last report: " + (r == null ? null : r.phase() + " " + r.reason()));
        return null;
    }
}
