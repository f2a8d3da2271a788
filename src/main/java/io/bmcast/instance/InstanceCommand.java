package io.bmcast.instance;

import io.bmcast.imagestore.ImageUri;
import io.bmcast.node.ImageUriConverter;
import io.bmcast.node.StoreOptions;
import io.bmcast.util.Signals;
import io.bmcast.util.UnitConverters.DurationConverter;
import java.time.Duration;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import io.bmcast.vmm.Accel;
import io.bmcast.vmm.DiskBus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import io.bmcast.node.HydrationOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast instance run}: deploy one instance by streaming and run it until the guest powers off. */
@Command(name = "instance", description = "Deploy instances by streaming.", subcommands = InstanceCommand.Run.class)
public final class InstanceCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UsageException("instance needs a sub-command: run");
    }

    /** Prints the timeline as it happens; exits with QEMU's exit code. */
    @Command(name = "run", sortOptions = false,
            description = "Deploy one instance by streaming: mediator + QEMU, de-virtualized live once the disk is "
                    + "local; runs until the guest powers off.")
    static final class Run implements Callable<Integer> {
        @Option(names = "--image", paramLabel = "URI", required = true, converter = ImageUriConverter.class,
                description = "The image: nbd://HOST:PORT/NAME or nbd+unix:///NAME?socket=PATH, or s3://BUCKET/PREFIX/NAME in an object store.")
        ImageUri image;

        @Option(names = "--disk", paramLabel = "PATH", required = true, description = "The local disk the image is copied to.")
        Path disk;

        @Option(names = "--state", paramLabel = "DIR", required = true, description = "The instance's state dir.")
        Path state;

        @Option(names = "--kernel", paramLabel = "FILE", description = "Boot this kernel (default: the disk's own boot loader).")
        Path kernel;

        @Option(names = "--initrd", paramLabel = "FILE", description = "Initial ramdisk for --kernel.")
        Path initrd;

        @Option(names = "--append", paramLabel = "STR", description = "Kernel command line (default with --kernel: console=ttyS0 root=DEVICE rw).")
        String append;

        @Option(names = "--memory", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "512M",
                description = "Guest memory (default ${DEFAULT-VALUE}).")
        long memory;

        @Option(names = "--device", paramLabel = "nvme|virtio", defaultValue = "virtio",
                description = "The guest's disk device (default virtio; nvme times out under sustained load in QEMU 7.2).")
        DiskBus device;

        @Option(names = "--console", paramLabel = "FILE", description = "Write the guest's serial console here.")
        Path console;

        @Option(names = "--events", paramLabel = "FILE", description = "Write the timeline here as JSON lines.")
        Path events;

        @Option(names = "--region-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "64K",
                description = "The mediator's region size (default ${DEFAULT-VALUE}).")
        long regionSize;

        @Option(names = "--hydrate-rate", paramLabel = "RATE", converter = RateConverter.class,
                description = "Cap the background copy, e.g. 200Mbit (default: no cap).")
        Long hydrateRate;

        @Mixin
        HydrationOptions hydration;

        @Mixin
        StoreOptions store;

        @Option(names = "--ready-marker", paramLabel = "STR", defaultValue = "BMCAST-READY",
                description = "The console line that says the guest is ready (default ${DEFAULT-VALUE}).")
        String readyMarker;

        @Option(names = "--stop-grace", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10s",
                description = "On SIGTERM (an operator's destroy): how long the guest has to power off after the ACPI power "
                        + "button before QEMU is killed; the mediator then stops without finishing the copy (default ${DEFAULT-VALUE}, 0: kill at once).")
        Duration stopGrace;

        @Option(names = "--source-extents", paramLabel = "FILE",
                description = "The image's data extents as the control plane caches them, given to the mediator.")
        Path sourceExtents;

        @Option(names = "--boot-profile", paramLabel = "FILE",
                description = "Fetch first the regions this recorded boot read, in its order (a profile an earlier deployment of the image recorded).")
        Path bootProfile;

        @Option(names = "--tls-dir", paramLabel = "DIR",
                description = "For an nbds:// image: the mediator's TLS credentials (DIR/ca-cert.pem, and client-cert.pem, client-key.pem if the server verifies clients).")
        Path tlsDir;

        @Option(names = "--allow-low-space",
                description = "Start even when the local disk's file system has less free space than the image's data needs.")
        boolean allowLowSpace;

        @Override
        public Integer call() throws Exception {
            Instance.Spec spec = spec();
            // Before the timeline's clock starts: a first probe on this host boot may take seconds.
            Accel.detect(spec.kernel());
            try (EventLog log = new EventLog(System.nanoTime(), spec.events(), System.out)) {
                Instance instance = new Instance(spec, log, System.out).withBootProfile(bootProfile);
                Signals.onTerminate(instance::requestStop);
                Instance.Result r = instance.run();
                System.out.println("instance: " + Instance.describe(r));
                return r.stoppedOnRequest() ? 0 : r.vmmExitCode();
            }
        }

        Instance.Spec spec() {
            if (memory < 64L << 20 || memory > 1L << 40) throw new UsageException("--memory must be between 64M and 1T");
            if (kernel != null && !Files.isRegularFile(kernel)) throw new UsageException("no kernel at " + kernel);
            if (image.tls() && tlsDir == null) throw new UsageException("the image " + image + " is served over TLS: give --tls-dir DIR (ca-cert.pem)");
            if (tlsDir != null && !Files.isDirectory(tlsDir)) throw new UsageException("--tls-dir: no directory " + tlsDir);
            if (initrd != null && !Files.isRegularFile(initrd)) throw new UsageException("no initrd at " + initrd);
            if (bootProfile != null && !Files.isRegularFile(bootProfile)) throw new UsageException("no boot profile at " + bootProfile);
            if (append != null && kernel == null) throw new UsageException("--append needs --kernel");
            if (initrd != null && kernel == null) throw new UsageException("--initrd needs --kernel");
            String cmdline = append != null || kernel == null ? append : "console=ttyS0 root=" + device.guestDevice() + " rw";
            return new Instance.Spec(store.apply(image), disk, state, kernel, initrd, cmdline, (int) (memory >> 20), device, console, events,
                    regionSize, hydrateRate == null ? 0 : hydrateRate, readyMarker, stopGrace, sourceExtents,
                    hydration.hydration(), tlsDir, allowLowSpace, store.store());
        }
    }
}
