package io.bmcast.instance;

import io.bmcast.util.Args;
import io.bmcast.util.Signals;
import io.bmcast.util.UsageException;
import io.bmcast.transport.NbdUri;
import io.bmcast.vmm.DiskBus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * {@code bmcast instance run}: deploy one instance by streaming and run it until the guest powers off.
 * Prints the timeline as it happens; exits with QEMU's exit code. SIGTERM (or SIGINT) is an operator's destroy:
 * ACPI power button, {@code --stop-grace} to power off, QEMU killed, mediator stopped as it is; then exit 0.
 */
public final class InstanceCommand {
    private InstanceCommand() {}

    public static int run(String[] argv) throws Exception {
        if (argv.length == 0 || !argv[0].equals("run")) throw new UsageException("usage: bmcast instance run --image URI --disk PATH --state DIR [--kernel FILE] ...");
        Args a = new Args(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        Instance.Spec spec = spec(a);
        a.done(0);
        try (EventLog events = new EventLog(System.nanoTime(), spec.events(), System.out)) {
            Instance instance = new Instance(spec, events, System.out);
            Signals.onTerminate(instance::requestStop);
            Instance.Result r = instance.run();
            System.out.println("instance: " + Instance.describe(r));
            return r.stoppedOnRequest() ? 0 : r.vmmExitCode();
        }
    }

    static Instance.Spec spec(Args a) {
        NbdUri image = a.parsed("image", NbdUri::parse);
        Path disk = Path.of(a.required("disk"));
        Path state = Path.of(a.required("state"));
        Path kernel = path(a.string("kernel", null));
        Path initrd = path(a.string("initrd", null));
        DiskBus bus = switch (a.string("device", "nvme").toLowerCase(Locale.ROOT)) {
            case "nvme" -> DiskBus.NVME;
            case "virtio" -> DiskBus.VIRTIO;
            default -> throw new UsageException("--device must be nvme or virtio");
        };
        String append = a.string("append", kernel == null ? null : "console=ttyS0 root=" + bus.guestDevice() + " rw");
        long memory = a.size("memory", 512L << 20);
        if (memory < 64L << 20 || memory > 1L << 40) throw new UsageException("--memory must be between 64M and 1T");
        Path console = path(a.string("console", null));
        Path events = path(a.string("events", null));
        long regionSize = a.size("region-size", 64 << 10);
        long rate = a.rate("hydrate-rate", 0);
        String marker = a.string("ready-marker", "BMCAST-READY");
        Duration stopGrace = Duration.ofNanos(a.durationNanos("stop-grace", Instance.Spec.DEFAULT_STOP_GRACE.toNanos()));
        if (kernel != null && !Files.isRegularFile(kernel)) throw new UsageException("no kernel at " + kernel);
        if (initrd != null && !Files.isRegularFile(initrd)) throw new UsageException("no initrd at " + initrd);
        if (append != null && kernel == null) throw new UsageException("--append needs --kernel");
        return new Instance.Spec(image, disk, state, kernel, initrd, append, (int) (memory >> 20), bus, console, events,
                regionSize, rate, marker, stopGrace);
    }

    private static Path path(String s) {
        return s == null ? null : Path.of(s);
    }
}
