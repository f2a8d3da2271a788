package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.guest.HostCommand;
import io.bmcast.vmm.DiskBus;
import io.bmcast.vmm.GuestConsole;
import io.bmcast.vmm.GuestDisk;
import io.bmcast.vmm.Qemu;
import io.bmcast.vmm.QemuSpec;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The workload guest: built from Debian's packages (debootstrap, once: the cache keeps it for the rest of the suite
 * and later runs), it boots on virtio-blk, runs fio as its kernel command line asks, then pgbench from the console,
 * and every figure it prints parses and is positive. The database was prepared at build time.
 */
class WorkloadGuestTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(1800)
    void bootsOnVirtioRunsFioAtBootAndPgbenchFromTheConsole() throws Exception {
        GuestBuilder b = new GuestBuilder(GuestKind.DEBIAN_DB, 0);
        GuestImage g = b.build(b.defaultDir(), step -> System.out.println("guest: " + step));
        Path disk = tmp.resolve("disk.img");
        HostCommand.run(Duration.ofMinutes(10), List.of("cp", "--sparse=always", g.disk().toString(), disk.toString()));
        QemuSpec base = QemuSpec.forGuest(g, new GuestDisk.Local(disk), tmp.resolve("vm")).withBus(DiskBus.VIRTIO, g);
        QemuSpec spec = new QemuSpec(base.workDir(), base.disk(), base.bus(), base.kernel(), base.initrd(),
                base.append() + " bmcast.workload=fio bmcast.workload.seconds=3", 512, null, List.of());
        long t0 = System.nanoTime();
        try (Qemu vm = Qemu.start(spec)) {
            ConsoleSampler s = new ConsoleSampler(vm.console(), t0);
            s.awaitEnd("fio-randread", 0, Duration.ofMinutes(10), vm::isAlive);
            int fioLines = s.size();
            vm.console().send("bmcast-workload pgbench 5");
            WorkloadLine done = s.awaitEnd("pgbench", fioLines, Duration.ofMinutes(5), vm::isAlive);
            assertTrue(done.value("tps") > 0, "pgbench's final tps: " + done);

            WorkloadRun run = new WorkloadRun("local", "fio", 1, s.lines(), -1, -1, null, java.util.Map.of());
            for (String job : List.of("fio-seqread", "fio-seqwrite", "fio-randread", "pgbench")) {
                List<double[]> points = run.points(job, null);
                assertTrue(!points.isEmpty(), job + " printed no figures:\n" + vm.console().output());
                assertTrue(points.stream().allMatch(p -> p[1] >= 0), job + ": a negative figure");
                assertTrue(points.stream().anyMatch(p -> p[1] > 0), job + ": every figure was zero");
                System.out.printf("%s: %d samples, mean %.1f %s%n", job, points.size(),
                        points.stream().mapToDouble(p -> p[1]).average().orElse(0), WorkloadLine.metricOf(job));
            }
            // pgbench's database came with the image: scale 50 is 50 branches
            vm.console().awaitShell(Duration.ofMinutes(2));
            GuestConsole.Result r = vm.console().run("runuser -u postgres -- psql -h /run/postgresql -tAc "
                    + "'select count(*) from pgbench_branches' bench", Duration.ofMinutes(2));
            assertTrue(r.ok(), r.output());
            assertEquals("50", r.output().strip().lines().reduce((a, c) -> c).orElse(""), r.output());
        }
    }
}
