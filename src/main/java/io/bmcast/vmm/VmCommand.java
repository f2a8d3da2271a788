package io.bmcast.vmm;

import io.bmcast.util.UsageException;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.guest.HostKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * {@code bmcast vm accel} and {@code bmcast vm boot}: run a built guest under the thin VMM by hand, e.g. against a
 * mediator's socket, and see how long it takes to be ready.
 */
public final class VmCommand {
    private VmCommand() {}

    public static int run(String[] args) throws Exception {
        if (args.length == 0) throw new UsageException("usage: bmcast vm accel | vm boot ...");
        return switch (args[0]) {
            case "accel" -> {
                System.out.println(Accel.detect(HostKernel.find().vmlinuz()).qemuName());
                yield 0;
            }
            case "boot" -> boot(args);
            default -> throw new UsageException("unknown 'vm' command '" + args[0] + "' (accel or boot)");
        };
    }

    private static int boot(String[] args) throws Exception {
        if (args.length < 2) throw new UsageException("vm boot needs a GUEST (a guest dir, busybox, debian or busybox-disk)");
        GuestImage guest = loadGuest(args[1]);
        Path nbd = null, disk = null, work = null, devirt = null;
        DiskBus bus = DiskBus.NVME;
        Accel accel = null;
        int memory = 512, reconnect = 20;
        boolean hold = false;
        Duration timeout = Duration.ofMinutes(5);
        for (int i = 2; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--hold")) { hold = true; continue; }
            if (i + 1 >= args.length) throw new UsageException(a + " needs a value");
            String v = args[++i];
            try {
                switch (a) {
                    case "--nbd" -> nbd = Path.of(v);
                    case "--disk" -> disk = Path.of(v);
                    case "--bus" -> bus = DiskBus.valueOf(v.toUpperCase(Locale.ROOT));
                    case "--accel" -> accel = Accel.valueOf(v.toUpperCase(Locale.ROOT));
                    case "--memory" -> memory = Integer.parseInt(v);
                    case "--reconnect-delay" -> reconnect = Integer.parseInt(v);
                    case "--work" -> work = Path.of(v);
                    case "--devirtualize-to" -> devirt = Path.of(v);
                    case "--timeout" -> timeout = Duration.ofNanos(io.bmcast.util.Units.parseDurationNanos(v));
                    default -> throw new UsageException("unknown option '" + a + "'");
                }
            } catch (IllegalArgumentException e) {
                throw new UsageException(a + ": " + e.getMessage());
            }
        }
        if ((nbd == null) == (disk == null)) throw new UsageException("give exactly one of --nbd SOCKET or --disk FILE");
        if (devirt != null && nbd == null) throw new UsageException("--devirtualize-to needs --nbd");
        GuestDisk gd = nbd != null ? new GuestDisk.Nbd(nbd.toAbsolutePath(), "", reconnect)
                : new GuestDisk.Local(disk.toAbsolutePath());
        if (work == null) work = Files.createTempDirectory("bmcast-vm");
        QemuSpec spec = QemuSpec.forGuest(guest, gd, work.toAbsolutePath()).withMemoryMiB(memory).withAccel(accel);
        if (bus != DiskBus.NVME) spec = spec.withBus(bus, guest);
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
