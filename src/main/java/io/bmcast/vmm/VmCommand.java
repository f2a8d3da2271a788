package io.bmcast.vmm;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.guest.HostKernel;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code bmcast vm accel} and {@code bmcast vm boot}: run a built guest under the thin VMM by hand, e.g. against a
 * mediator's socket, and see how long it takes to be ready.
 */
@Command(name = "vm", description = "Run a built guest under the thin VMM by hand.",
        subcommands = {VmCommand.AccelCommand.class, VmCommand.Boot.class})
public final class VmCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UsageException("vm needs a sub-command: accel or boot");
    }

    @Command(name = "accel", description = "Print the accelerator QEMU uses here (KVM only if a kernel really boots on it).")
    static final class AccelCommand implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            System.out.println(Accel.detect(HostKernel.find().vmlinuz()).qemuName());
            return 0;
        }
    }

    @Command(name = "boot", sortOptions = false,
            description = "Boot a built guest (a guest dir, busybox, debian or busybox-disk) and report when it is "
                    + "ready. Give exactly one of --nbd and --disk.")
    static final class Boot implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "GUEST", description = "A guest dir (with guest.json), busybox, debian or busybox-disk.")
        String guest;

        @Option(names = "--nbd", paramLabel = "SOCKET", description = "The guest's disk is the NBD export on this Unix socket.")
        Path nbd;

        @Option(names = "--disk", paramLabel = "FILE", description = "The guest's disk is this local file.")
        Path disk;

        @Option(names = "--device", paramLabel = "nvme|virtio", defaultValue = "virtio", description = "The guest's disk device (default virtio; nvme times out under sustained load in QEMU 7.2).")
        DiskBus device;

        @Option(names = "--accel", paramLabel = "kvm|tcg", description = "Accelerator (default: KVM where a kernel boots on it, else TCG).")
        Accel accel;

        @Option(names = "--memory", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "512M",
                description = "Guest memory (default ${DEFAULT-VALUE}).")
        long memory;

        @Option(names = "--reconnect-delay", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "20s",
                description = "How long QEMU holds the guest's I/O while the NBD server is gone, whole seconds (default "
                        + "${DEFAULT-VALUE}).")
        Duration reconnectDelay;

        @Option(names = "--work", paramLabel = "DIR", description = "QEMU's work dir: QMP socket, console log (default: a temporary directory).")
        Path work;

        @Option(names = "--devirtualize-to", paramLabel = "FILE", description = "Once ready, move the disk onto this local file (needs --nbd).")
        Path devirtualizeTo;

        @Option(names = "--hold", description = "Keep the guest running until it powers off or this process is interrupted.")
        boolean hold;

        @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "5m",
                description = "How long the guest may take to be ready (default ${DEFAULT-VALUE}).")
        Duration timeout;

        @Override
        public Integer call() throws Exception {
            if (memory < 64L << 20 || memory > 1L << 40) throw new UsageException("--memory must be between 64M and 1T");
            if ((nbd == null) == (disk == null)) throw new UsageException("give exactly one of --nbd SOCKET or --disk FILE");
            GuestImage guest = loadGuest(this.guest);
            return boot(guest, nbd, disk, device, accel, memory, reconnectDelay, work, devirtualizeTo, hold, timeout);
        }
    }

    private static int boot(GuestImage guest, Path nbd, Path disk, DiskBus bus, Accel accel, long memory, Duration reconnectDelay,
            Path work, Path devirt, boolean hold, Duration timeout) throws Exception {
        if (reconnectDelay.toNanos() % 1_000_000_000L != 0) throw new UsageException("--reconnect-delay must be whole seconds, e.g. 20s");
        int reconnect = (int) reconnectDelay.toSeconds();
        if (devirt != null && nbd == null) throw new UsageException("--devirtualize-to needs --nbd");
        GuestDisk gd = nbd != null ? new GuestDisk.Nbd(nbd.toAbsolutePath(), "", reconnect)
                : new GuestDisk.Local(disk.toAbsolutePath());
        if (work == null) work = Files.createTempDirectory("bmcast-vm");
        QemuSpec spec = QemuSpec.forGuest(guest, gd, work.toAbsolutePath()).withMemoryMiB((int) (memory >> 20)).withAccel(accel);
        spec = spec.withBus(bus, guest);
        try (Qemu vm = Qemu.start(spec)) {
            Thread hook = new Thread(vm::stop);
            Runtime.getRuntime().addShutdownHook(hook);
            System.out.println("qemu:    pid " + vm.pid() + ", " + vm.accel().qemuName() + ", work dir " + work);
            System.out.println("qmp:     " + Qemu.qmpSocket(work));
            System.out.println("console: " + Qemu.consoleLog(work));
            vm.console().await(guest.readyMarker(), timeout);
            System.out.printf("ready:   %.2f s after QEMU started%n", vm.elapsedNanos() / 1e9);
            if (devirt != null) {
                long t0 = System.nanoTime();
                new Devirtualizer(vm.qmp()).devirtualize(devirt.toAbsolutePath());
                System.out.printf("devirtualized onto %s in %.1f ms%n", devirt, (System.nanoTime() - t0) / 1e6);
            }
            if (hold) {
                System.out.println("holding; the guest runs until it powers off or this process is interrupted");
                vm.waitFor(Duration.ofDays(365));
            }
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        return 0;
    }

    private static GuestImage loadGuest(String arg) throws Exception {
        Path dir = Path.of(arg);
        if (Files.exists(dir.resolve(GuestImage.JSON))) return GuestImage.load(dir);
        try {
            GuestBuilder b = new GuestBuilder(GuestKind.parse(arg), 0);
            if (Files.exists(b.defaultDir().resolve(GuestImage.JSON))) return GuestImage.load(b.defaultDir());
            throw new UsageException("guest '" + arg + "' is not built yet: run 'bmcast guest build " + arg + "'");
        } catch (IllegalArgumentException e) {
            throw new UsageException(arg + " is neither a guest dir (with guest.json) nor busybox/debian/busybox-disk");
        }
    }
}
