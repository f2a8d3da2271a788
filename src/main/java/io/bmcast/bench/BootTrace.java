package io.bmcast.bench;

import io.bmcast.guest.GuestCache;
import io.bmcast.guest.GuestImage;
import io.bmcast.imagestore.Manifest;
import io.bmcast.instance.EventLog;
import io.bmcast.instance.Instance;
import io.bmcast.node.MediatorConfig;
import io.bmcast.storage.BootProfileFormat;
import io.bmcast.transport.NbdUri;
import io.bmcast.vmm.DiskBus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A boot trace: the on-demand reads one real guest boot made, in order, as the mediator's boot profile records them
 * ({@link BootProfileFormat}: BMCPROF2 with the time of each read, or BMCPROF1 without). {@code bench fanout} replays
 * it against each simulated node's mediated disk, at the recorded pace or back to back: finishing the replay is that
 * node's time to ready.
 *
 * @param file     the profile file (also handed to each mediator as its prefetch order)
 * @param reads    {offset, length, at} in order; at is milliseconds after the first read, -1 in an untimed trace
 * @param recorded true when a real guest ran in this process to record it, false when a cached one was reused
 */
record BootTrace(Path file, List<long[]> reads, boolean recorded) {
    static BootTrace load(Path file, boolean recorded) throws IOException {
        List<BootProfileFormat.Read> decoded;
        try {
            decoded = BootProfileFormat.decode(Files.readAllBytes(file));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + " is " + e.getMessage());
        }
        List<long[]> reads = new ArrayList<>();
        for (BootProfileFormat.Read r : decoded) reads.add(new long[] {r.offset(), r.length(), r.atMs()});
        if (reads.isEmpty()) throw new IOException(file + " records no read");
        return new BootTrace(file, List.copyOf(reads), recorded);
    }

    /** Writes a trace of {@code reads}: {offset, length} (BMCPROF1), or {offset, length, atMs} each (BMCPROF2). */
    static Path write(Path file, List<long[]> reads) throws IOException {
        boolean timed = !reads.isEmpty() && reads.stream().allMatch(r -> r.length > 2);
        List<BootProfileFormat.Read> out = reads.stream().map(r -> new BootProfileFormat.Read(r[0], r[1], timed ? r[2] : -1)).toList();
        Files.write(file, BootProfileFormat.encode(out, timed));
        return file;
    }

    /** True when the trace says when each read came (BMCPROF2), so a replay can keep the boot's pace. */
    boolean timed() {
        return reads.getFirst()[2] >= 0;
    }

    /**
     * The boot's own duration as recorded: from its first on-demand read to its last, in seconds (0 when untimed). The
     * latest time, not the last record's: two reads fetched at once are recorded as they finish, so times may step back.
     */
    double durationSeconds() {
        return timed() ? reads.stream().mapToLong(r -> r[2]).max().orElse(0) / 1e3 : 0;
    }

    /** The chunks the trace touches, each once. */
    BitSet chunks(Manifest m) {
        BitSet s = new BitSet(m.chunkCount());
        for (long[] r : reads) {
            long end = Math.min(m.size(), r[0] + r[1]);
            for (long i = r[0] / m.chunkSize(); i * m.chunkSize() < end; i++) {
                if (m.chunk((int) i) != null) s.set((int) i);
            }
        }
        return s;
    }

    /** One working set: the stored bytes of the chunks the trace touches. */
    long workingSetBytes(Manifest m) {
        long total = 0;
        BitSet s = chunks(m);
        for (int i = s.nextSetBit(0); i >= 0; i = s.nextSetBit(i + 1)) total += m.chunk(i).storedSize();
        return total;
    }

    /** The cached trace of {@code image}'s boot, recording it first (one real guest boot) when there is none. */
    static BootTrace of(GuestImage image, Duration timeout) throws IOException, InterruptedException {
        // ".timed" since BMCPROF2: a trace cached before it has no times to pace a replay by, so it is recorded anew once.
        Path cached = GuestCache.root().resolve("traces").resolve(image.dir().getFileName() + ".timed.boot-profile");
        if (Files.isRegularFile(cached)) return load(cached, false);
        Files.createDirectories(cached.getParent());
        try (BenchImageServer images = BenchImageServer.start("fanout", image, 10_000_000_000L / 8, 0)) {
            Path dir = images.work;
            Path state = dir.resolve("state");
            Instance.Spec spec = new Instance.Spec(NbdUri.unix(images.socket, BenchImageServer.EXPORT), dir.resolve("disk.img"), state,
                    image.kernel(), image.initrd(), image.append(), 512, DiskBus.DEFAULT, null, null, 64 << 10, 0,
                    image.readyMarker(), Instance.Spec.DEFAULT_STOP_GRACE, null,
                    // No background copy: every read the boot makes is on demand, so the profile records them all.
                    new MediatorConfig.Hydration(MediatorConfig.Hydration.DEFAULT_SHARE, null, false));
            AtomicBoolean ready = new AtomicBoolean();
            try (EventLog events = new EventLog(System.nanoTime(), null, System.err)) {
                new Instance(spec, events, System.err, vm -> Thread.ofVirtual().name("fanout-trace").start(() -> {
                    long deadline = System.nanoTime() + timeout.toNanos();
                    try {
                        while (vm.isAlive() && System.nanoTime() < deadline) {
                            if (vm.console().output().contains(image.readyMarker())) {
                                ready.set(true);
                                break;
                            }
                            Thread.sleep(20);
                        }
                        vm.qmp().execute("quit", Map.of(), Duration.ofSeconds(5));
                    } catch (IOException | InterruptedException e) {
                        // QEMU already gone: Instance notices
                    }
                })).run();
            }
            Path profile = state.resolve("boot-profile");
            if (!ready.get() || !Files.isRegularFile(profile)) {
                throw new IOException("the guest never became ready, so no boot trace was recorded");
            }
            load(profile, true); // refused before it is cached when it records no read
            Path tmp = cached.resolveSibling(cached.getFileName() + ".part");
            Files.copy(profile, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, cached, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        return load(cached, true);
    }
}
