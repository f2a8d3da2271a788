package io.bmcast.bench;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.guest.HostCommand;
import io.bmcast.instance.EventLog;
import io.bmcast.instance.Instance;
import io.bmcast.node.MediatorConfig;
import io.bmcast.node.NodeState;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.Jackson;
import io.bmcast.util.Units;
import io.bmcast.vmm.DiskBus;
import io.bmcast.vmm.GuestDisk;
import io.bmcast.vmm.Qemu;
import io.bmcast.vmm.QemuSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code bmcast bench workload}: the paper's second and third figures. The workload guest ({@code debian-db}:
 * PostgreSQL with a pgbench database, and fio) behind one emulated link, booted in each mode in turn, printing its
 * throughput every second:
 *
 * <pre>
 *   local        the image already on the local disk                               (the baseline)
 *   bmcast       mediator + QEMU: streaming, then de-virtualized; the workload runs at boot (during deployment)
 *                and, when deployment ended after it, once more on the de-virtualized disk
 *   remote-only  the mediator fetches what the guest reads, nothing is copied in the background ("KVM without
 *                background install")
 * </pre>
 *
 * Samples are stamped with the host's clock since QEMU (or the instance) started; a bmcast sample counts as
 * "during deployment" until the instance's {@code devirtualized} event, as "after de-virtualization" from then on.
 */
public final class WorkloadBench {
    static final List<String> ALL_MODES = List.of("local", "bmcast", "remote-only");
    static final List<String> ALL_WORKLOADS = List.of("pgbench", "fio");
    static final String EXPORT = BenchImageServer.EXPORT;
    static final int MEMORY_MIB = 512;

    record Options(long rate, long latencyNs, long appData, List<String> modes, List<String> workloads,
            Duration duration, Duration fioDuration, int repeat, Path out, Duration readyTimeout, int regionSize, double hydrateShare) {

        /** Seconds each boot's workload runs: pgbench as a whole, fio per job (three jobs). */
        long seconds(String workload) {
            return Math.max(1, (workload.equals("fio") ? fioDuration : duration).toSeconds());
        }

        /** The job whose end ends a workload. */
        static String lastJob(String workload) {
            return workload.equals("fio") ? "fio-randread" : "pgbench";
        }
    }

    private final Options options;
    private final GuestImage image;
    private final CountingExport counter;
    private final Path socket;
    private final Path work;
    private final long imageDataBytes;

    private WorkloadBench(Options options, GuestImage image, CountingExport counter, Path socket, Path work,
            long imageDataBytes) {
        this.options = options;
        this.image = image;
        this.counter = counter;
        this.socket = socket;
        this.work = work;
        this.imageDataBytes = imageDataBytes;
    }

    static int run(Options o) throws Exception {
        System.setProperty("java.awt.headless", "true");
        for (String tool : List.of("qemu-img", Qemu.BINARY, "cp")) {
            if (BenchCommand.which(tool) == null) throw new IllegalStateException("bench workload needs '" + tool + "' on PATH");
        }
        GuestBuilder builder = new GuestBuilder(GuestKind.DEBIAN_DB, o.appData());
        System.err.println("workload: guest debian-db in " + builder.defaultDir() + " (building if needed: a few minutes)");
        GuestImage image = builder.build(builder.defaultDir(), step -> System.err.println("workload: guest: " + step));
        if (image.initrd() == null) throw new IOException("the debian-db guest has no initrd.img: it cannot boot on virtio-blk");
        Files.createDirectories(o.out());
        try (BenchImageServer images = BenchImageServer.start("workload", image, o.rate(), o.latencyNs())) {
            return new WorkloadBench(o, image, images.counter, images.socket, images.work, images.dataBytes).runAll();
        }
    }

    private int runAll() throws IOException {
        List<WorkloadRun> runs = new ArrayList<>();
        int total = options.repeat() * options.workloads().size() * options.modes().size(), done = 0;
        long start = System.nanoTime();
        for (int round = 1; round <= options.repeat(); round++) {
            for (String workload : options.workloads()) {
                for (String mode : options.modes()) {
                    done++;
                    System.err.printf(Locale.ROOT, "workload: --- %s, %s, round %d (%d of %d, %.0f s so far) ---%n",
                            workload, mode, round, done, total, (System.nanoTime() - start) / 1e9);
                    Path dir = Files.createDirectories(work.resolve(mode + "-" + workload + "-" + round));
                    WorkloadRun r;
                    try {
                        r = switch (mode) {
                            case "local" -> plain(mode, workload, round, dir, localDisk(dir));
                            case "bmcast", "remote-only" -> instance(mode, workload, round, dir);
                            default -> throw new IllegalStateException(mode);
                        };
                    } catch (IOException | RuntimeException e) {
                        r = new WorkloadRun(mode, workload, round, List.of(), -1, -1, String.valueOf(e.getMessage()), Map.of());
                    } finally {
                        BenchImageServer.removeTree(dir, "workload");
                    }
                    runs.add(r);
                    report(r);
                }
            }
        }
        return finish(runs, (System.nanoTime() - start) / 1e9);
    }

    private static void report(WorkloadRun r) {
        if (r.error() != null) {
            System.err.println("workload: " + r.mode() + " " + r.workload() + " failed: " + r.error());
            return;
        }
        StringBuilder b = new StringBuilder("workload: " + r.mode() + " " + r.workload() + ":");
        for (String job : r.workload().equals("fio") ? WorkloadTable.FIO_JOBS : WorkloadTable.DB_JOBS) {
            List<double[]> pts = r.points(job, null);
            double mean = pts.stream().mapToDouble(p -> p[1]).average().orElse(Double.NaN);
            b.append(String.format(Locale.ROOT, " %s %.1f (%d samples)", WorkloadTable.jobLabel(job), mean, pts.size()));
        }
        if (r.mode().equals("bmcast")) {
            b.append(String.format(Locale.ROOT, "; hydrated at %.1f s, de-virtualized at %.1f s", r.hydrated(), r.devirtualized()));
        }
        System.err.println(b);
    }

    // ---- the modes ----

    private GuestDisk localDisk(Path dir) throws IOException {
        Path disk = dir.resolve("disk.img");
        // "already on the local disk": not part of any figure
        HostCommand.run(Duration.ofMinutes(30), List.of("cp", "--sparse=always", image.disk().toString(), disk.toString()));
        return new GuestDisk.Local(disk);
    }

    /** Boots straight on {@code disk} (local, or the image server's export) and records one run of the workload. */
    private WorkloadRun plain(String mode, String workload, int round, Path dir, GuestDisk disk) throws IOException {
        long bytesBefore = counter.bytesRead();
        QemuSpec base = QemuSpec.forGuest(image, disk, dir.resolve("vm")).withBus(DiskBus.VIRTIO, image)
                .withMemoryMiB(MEMORY_MIB);
        QemuSpec spec = new QemuSpec(base.workDir(), disk, base.bus(), base.kernel(), base.initrd(),
                base.append() + flags(workload), MEMORY_MIB, null, List.of());
        long t0 = System.nanoTime();
        try (Qemu vm = Qemu.start(spec)) {
            ConsoleSampler sampler = new ConsoleSampler(vm.console(), t0);
            sampler.awaitEnd(Options.lastJob(workload), 0, runTimeout(workload), vm::isAlive);
            return new WorkloadRun(mode, workload, round, sampler.lines(), -1, -1, null,
                    Map.of("bytesOverLink", counter.bytesRead() - bytesBefore));
        }
    }

    /**
     * An instance (mediator + QEMU). bmcast: the workload runs at boot, while the disk streams; once it ended and the
     * instance is de-virtualized, it runs once more from the console, on the local disk alone. remote-only: the
     * mediator fetches what the guest reads and copies nothing in the background, so the disk never completes; one
     * run at boot. Then the instance is destroyed.
     */
    private WorkloadRun instance(String mode, String workload, int round, Path dir) throws IOException {
        boolean remoteOnly = mode.equals("remote-only");
        long bytesBefore = counter.bytesRead();
        Path state = dir.resolve("state");
        Instance.Spec spec = new Instance.Spec(NbdUri.unix(socket, EXPORT), dir.resolve("disk.img"), state,
                image.kernel(), image.initrd(), image.append(DiskBus.VIRTIO.guestDevice()) + flags(workload), MEMORY_MIB,
                DiskBus.VIRTIO, null, dir.resolve("events.jsonl"), options.regionSize(), 0, image.readyMarker(),
                Duration.ZERO, null, new MediatorConfig.Hydration(options.hydrateShare(), null, !remoteOnly));
        long t0 = System.nanoTime();
        AtomicReference<ConsoleSampler> sampler = new AtomicReference<>();
        AtomicReference<Exception> failure = new AtomicReference<>();
        AtomicReference<Instance> instance = new AtomicReference<>();
        String job = Options.lastJob(workload);
        Instance.Result result;
        try (EventLog events = new EventLog(t0, dir.resolve("events.jsonl"), System.err)) {
            instance.set(new Instance(spec, events, System.err, vm -> Thread.ofVirtual().name("bench-workload").start(() -> {
                ConsoleSampler s = new ConsoleSampler(vm.console(), t0);
                sampler.set(s);
                try {
                    s.awaitEnd(job, 0, runTimeout(workload), vm::isAlive);
                    if (remoteOnly) return;
                    long deadline = System.nanoTime() + localBound().toNanos();
                    while (!NodeState.isDevirtualized(state) && vm.isAlive() && System.nanoTime() < deadline) {
                        s.poll();
                        Thread.sleep(ConsoleSampler.POLL_MS);
                    }
                    if (NodeState.isDevirtualized(state)) {
                        System.err.println("workload: de-virtualized; running " + workload + " again on the local disk");
                        int from = s.size();
                        vm.console().send("bmcast-workload " + workload + " " + options.seconds(workload));
                        s.awaitEnd(job, from, runTimeout(workload), vm::isAlive);
                    } else {
                        throw new IOException("the instance did not de-virtualize within " + localBound().toSeconds()
                                + " s after its workload ended");
                    }
                } catch (IOException | InterruptedException | RuntimeException e) {
                    failure.set(e);
                } finally {
                    s.poll();
                    instance.get().requestStop();
                }
            })));
            result = instance.get().run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("bytesOverLink", counter.bytesRead() - bytesBefore);
        if (result.finalStatus() != null) {
            extra.put("bytesOnDemand", result.finalStatus().get("bytesOnDemand"));
            extra.put("bytesBackground", result.finalStatus().get("bytesBackground"));
        }
        extra.put("guestReadySeconds", StartupTable.round(result.guestReady()));
        ConsoleSampler s = sampler.get();
        Exception e = failure.get();
        return new WorkloadRun(mode, workload, round, s == null ? List.of() : s.lines(), result.hydrated(),
                result.devirtualized(), e == null ? null : String.valueOf(e.getMessage()), extra);
    }

    // ---- results ----

    private int finish(List<WorkloadRun> runs, double elapsed) throws IOException {
        WorkloadTable table = new WorkloadTable(runs);
        String header = String.format(Locale.ROOT,
                "bench workload: debian-db guest (%s of data, %d MiB RAM, virtio-blk), link %s + %s latency, "
                        + "pgbench %d s, fio %d s per job, %d round(s), %.0f s in all",
                Units.formatSize(imageDataBytes), MEMORY_MIB, Units.formatRate(options.rate()),
                StartupBench.formatLatency(options.latencyNs()), options.duration().toSeconds(),
                options.fioDuration().toSeconds(), options.repeat(), elapsed);
        StringBuilder text = new StringBuilder(header).append('\n').append(table.format());
        text.append(underLoad(runs, table));
        text.append(table.targets());
        List<String> failed = new ArrayList<>();
        for (WorkloadRun r : runs) {
            if (r.error() != null) failed.add(r.mode() + " " + r.workload() + " round " + r.round() + ": " + r.error());
        }
        for (String f : failed) text.append("FAILED: ").append(f.lines().findFirst().orElse("")).append('\n');
        System.out.print(text);

        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("guest", GuestKind.DEBIAN_DB.id());
        doc.put("imageDataBytes", imageDataBytes);
        doc.put("linkBytesPerSec", options.rate());
        doc.put("latencyNs", options.latencyNs());
        doc.put("memoryMiB", MEMORY_MIB);
        doc.put("means", table.toJson());
        List<Map<String, Object>> rj = new ArrayList<>();
        for (WorkloadRun r : runs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mode", r.mode());
            m.put("workload", r.workload());
            m.put("round", r.round());
            if (r.mode().equals("bmcast")) {
                m.put("hydratedSeconds", StartupTable.round(r.hydrated()));
                m.put("devirtualizedSeconds", StartupTable.round(r.devirtualized()));
            }
            m.putAll(r.extra());
            if (r.error() != null) m.put("error", r.error());
            List<Map<String, Object>> samples = new ArrayList<>();
            for (ConsoleSampler.Sample s : r.samples()) {
                if (!s.line().isSample()) continue;
                Map<String, Object> sm = new LinkedHashMap<>();
                sm.put("t", StartupTable.round(s.seconds()));
                sm.put("job", s.line().word());
                sm.put("phase", r.phaseAt(s.seconds()));
                s.line().fields().forEach((k, v) -> {
                    if (!k.equals("t") && !k.equals("n")) sm.put(k, s.line().value(k));
                });
                samples.add(sm);
            }
            m.put("samples", samples);
            rj.add(m);
        }
        doc.put("runs", rj);
        Path json = options.out().resolve("results.json");
        Files.writeString(json, Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(doc) + "\n");
        Files.writeString(options.out().resolve("table.txt"), text.toString());
        Path png = options.out().resolve("workload.png");
        LineChart.write(chart(runs, header), png);
        System.out.println("results: " + json.toAbsolutePath() + "\nchart:   " + png.toAbsolutePath());
        return failed.isEmpty() ? 0 : 1;
    }

    /** How long the busy bmcast instances took to become local, and what that cost their workload. */
    static String underLoad(List<WorkloadRun> runs, WorkloadTable table) {
        StringBuilder b = new StringBuilder();
        double cost = table.ofLocal("pgbench", "deploying");
        if (!Double.isNaN(cost)) {
            b.append(String.format(Locale.ROOT, "cost of deploying under pgbench: %.1f%% of local tps while streaming "
                    + "(%.1f%% lost)%n", 100 * cost, 100 * (1 - cost)));
        }
        for (WorkloadRun r : runs) {
            if (!r.mode().equals("bmcast") || r.error() != null && r.samples().isEmpty()) continue;
            String job = r.workload().equals("fio") ? "fio-seqread" : "pgbench";
            double first = r.points(job, null).stream().mapToDouble(p -> p[0]).min().orElse(Double.NaN);
            b.append(String.format(Locale.ROOT, "bmcast under %s (round %d): workload from %.1f s, hydrated at %.1f s, "
                            + "de-virtualized at %.1f s; %s on demand + %s in the background%n", r.workload(), r.round(),
                    first, r.hydrated(), r.devirtualized(), size(r.extra().get("bytesOnDemand")),
                    size(r.extra().get("bytesBackground"))));
        }
        return b.toString();
    }

    private static String size(Object bytes) {
        return bytes instanceof Number n ? Units.formatSize(n.longValue()) : "?";
    }

    /** Throughput over time of the first round: one panel per job that ran, one line per mode. */
    static LineChart.Chart chart(List<WorkloadRun> runs, String header) {
        List<LineChart.Panel> panels = new ArrayList<>();
        List<String> jobs = new ArrayList<>(WorkloadTable.DB_JOBS);
        jobs.addAll(WorkloadTable.FIO_JOBS);
        for (String job : jobs) {
            List<LineChart.Series> series = new ArrayList<>();
            List<LineChart.Marker> markers = new ArrayList<>();
            for (String mode : ALL_MODES) {
                for (WorkloadRun r : runs) {
                    if (r.round() != 1 || !r.mode().equals(mode)) continue;
                    List<double[]> pts = r.points(job, null);
                    if (pts.isEmpty()) continue;
                    int index = series.size();
                    series.add(new LineChart.Series(mode, pts));
                    if (mode.equals("bmcast")) {
                        if (r.hydrated() >= 0) markers.add(new LineChart.Marker("hydrated", r.hydrated(), index));
                        if (r.devirtualized() >= 0) {
                            markers.add(new LineChart.Marker("de-virtualized", r.devirtualized(), index));
                        }
                    }
                }
            }
            if (!series.isEmpty()) panels.add(new LineChart.Panel(WorkloadTable.jobLabel(job), series, markers));
        }
        return new LineChart.Chart("Workload throughput over time: local disk, bmcast, remote-only",
                header.replace("bench workload: ", ""), "seconds since QEMU (or the instance) started", panels);
    }

    // ---- helpers ----

    private String flags(String workload) {
        return " bmcast.workload=" + workload + " bmcast.workload.seconds=" + options.seconds(workload);
    }

    /** Boot, then the workload (fio: three jobs), with room for a slow start. */
    private Duration runTimeout(String workload) {
        long work = options.seconds(workload) * (workload.equals("fio") ? 3 : 1);
        return options.readyTimeout().plusSeconds(2 * work + 120);
    }

    /** How long to wait for the disk to become local once the workload is over: the data at a third of link rate, plus 2 min. */
    private Duration localBound() {
        return Duration.ofSeconds(120 + 3 * imageDataBytes / Math.max(1, options.rate()));
    }
}
