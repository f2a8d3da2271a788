package io.bmcast.demo;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.imageserver.ImageServer;
import io.bmcast.instance.EventLog;
import io.bmcast.instance.Instance;
import io.bmcast.node.NodeState;
import io.bmcast.storage.Extents;
import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.Units;
import io.bmcast.vmm.DiskBus;
import io.bmcast.vmm.GuestConsole;
import io.bmcast.vmm.Qemu;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bmcast demo}: the whole story on one machine with embedded defaults. Builds the busybox sample
 * guest (once), serves its 32 GiB image from an in-process image server behind an emulated 1 Gbit/s
 * link, deploys an instance by streaming, checks the guest's data from inside it while the disk is
 * still arriving, waits for de-virtualization, powers the guest off, and prints the timeline next to
 * what a full image copy over the same link would have cost.
 */
@Command(name = "demo", sortOptions = false,
        description = "The whole story on this machine: build a sample guest, serve it, deploy it by streaming, "
                + "check it, de-virtualize, compare with a full copy.")
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "1Gbit",
            description = "Rate of the emulated link to the image server (default ${DEFAULT-VALUE}).")
    long rate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "200us",
            description = "One-way latency of that link (default ${DEFAULT-VALUE}).")
    Duration latency;

    @Option(names = "--app-data", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "1G",
            description = "Application data in the image that the boot never reads (default ${DEFAULT-VALUE}).")
    long appData;

    @Option(names = "--keep", description = "Keep the work dir (console log, events, local disk) afterwards.")
    boolean keep;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;

        out.printf("demo: building the busybox sample guest (cached after the first run)...%n");
        GuestBuilder builder = new GuestBuilder(GuestKind.BUSYBOX, appData);
        GuestImage guest = builder.build(builder.defaultDir(), step -> out.println("demo: guest: " + step));
        long allocated;
        try (FileExport f = FileExport.open(guest.disk(), true)) {
            allocated = Extents.dataBytes(f);
        }
        out.printf("demo: image %s: %s, %s allocated (%s of application data the boot never reads)%n", guest.disk(),
                Units.formatSize(guest.diskSize()), Units.formatSize(allocated), Units.formatSize(appData));

        Path work = Files.createTempDirectory("bmcast-demo-");
        LinkEmulator link = new LinkEmulator(TokenBucket.withDefaultBurst(rate), latency.toNanos());
        try (FileExport image = new FileExport("busybox", "busybox sample guest", guest.disk(), true);
             NbdServer server = new NbdServer(Map.<String, Export>of("busybox", ImageServer.wrap(image, link)))) {
            Listener listener = Listener.unix(work.resolve("image.sock"));
            server.start(listener);
            NbdUri uri = NbdUri.unix(listener.socketPath(), "busybox");
            out.printf("demo: image server on %s, emulated link %s%n", uri, link);

            Path state = work.resolve("state");
            Instance.Spec spec = new Instance.Spec(uri, work.resolve("local-disk.img"), state, guest.kernel(), null,
                    guest.append(DiskBus.NVME.guestDevice()), 512, DiskBus.NVME, work.resolve("console.log"),
                    work.resolve("events.jsonl"), 64 << 10, 0, guest.readyMarker());
            out.printf("demo: deploying an instance by streaming (QEMU console log: %s)%n", spec.console());
            Instance.Result result;
            try (EventLog events = new EventLog(System.nanoTime(), spec.events(), out)) {
                result = new Instance(spec, events, out, qemu -> Thread.ofVirtual().start(() -> drive(qemu, state, guest, events))).run();
            }
            report(out, result, guest, allocated, rate);
            return result.vmmExitCode() == 0 && result.devirtualized() > 0 ? 0 : 1;
        } finally {
            if (keep) out.println("demo: kept " + work);
            else deleteTree(work);
        }
    }

    /** Inside the guest: check the data while it streams, then once more after de-virtualization, then power off. */
    private static void drive(Qemu qemu, Path state, GuestImage guest, EventLog events) {
        GuestConsole console = qemu.console();
        try {
            console.awaitShell(Duration.ofMinutes(2));
            GuestConsole.Result r = console.run("cd " + guest.dataDir() + " && sha256sum -c SHA256SUMS | grep -c ': OK'", Duration.ofMinutes(5));
            events.emit("guest-checked-data", "filesOk", r.output().strip(), "streaming", !NodeState.isDevirtualized(state));
            console.run("echo hello-from-the-guest > /root/hello.txt && sync", Duration.ofMinutes(2));
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (!NodeState.isDevirtualized(state) && System.nanoTime() < deadline && qemu.isAlive()) {
                Thread.sleep(200);
            }
            r = console.run("echo 3 > /proc/sys/vm/drop_caches; cd " + guest.dataDir()
                    + " && sha256sum -c SHA256SUMS | grep -c ': OK'", Duration.ofMinutes(5));
            events.emit("guest-checked-data", "filesOk", r.output().strip(), "streaming", !NodeState.isDevirtualized(state));
            console.send("poweroff -f");
        } catch (IOException e) {
            events.emit("guest-console-error", "error", e.getMessage());
            try {
                qemu.qmp().execute("quit", Map.of());
            } catch (IOException ignored) {
                // QEMU is going away anyway
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void report(PrintStream out, Instance.Result r, GuestImage guest, long allocated, long rate) {
        Map<String, Object> s = r.finalStatus();
        long onDemand = s == null ? 0 : ((Number) s.get("bytesOnDemand")).longValue();
        long background = s == null ? 0 : ((Number) s.get("bytesBackground")).longValue();
        double fullCopy = (double) guest.diskSize() / rate;
        out.println();
        out.println("timeline (seconds since the deployment started)");
        out.printf(Locale.ROOT, "  guest ready (%s)            %8.2f%n", guest.readyMarker(), r.guestReady());
        out.printf(Locale.ROOT, "  disk fully local (hydrated)           %8.2f%n", r.hydrated());
        out.printf(Locale.ROOT, "  de-virtualized (mediator gone)        %8.2f%n", r.devirtualized());
        out.printf(Locale.ROOT, "  guest powered off                     %8.2f%n", r.vmmExited());
        out.printf(Locale.ROOT, "moved over the link: %s on demand + %s in the background (%s of %s needed no transfer)%n",
                Units.formatSize(onDemand), Units.formatSize(background),
                Units.formatSize(Math.max(0, guest.diskSize() - onDemand - background)), Units.formatSize(guest.diskSize()));
        out.printf(Locale.ROOT, "a full copy of the %s image over %s alone would take %.0f s before the boot could start:%n",
                Units.formatSize(guest.diskSize()), Units.formatRate(rate), fullCopy);
        if (r.guestReady() > 0) {
            out.printf(Locale.ROOT, "  bmcast had the guest ready %.0fx sooner%n", (fullCopy + r.guestReady()) / r.guestReady());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }
}
