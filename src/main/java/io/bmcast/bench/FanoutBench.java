package io.bmcast.bench;

import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.ChunkCache;
import io.bmcast.imagestore.ChunkFetcher;
import io.bmcast.imagestore.ChunkSource;
import io.bmcast.imagestore.HttpChunkSource;
import io.bmcast.imagestore.PeerList;
import io.bmcast.imagestore.PeerServer;
import io.bmcast.imagestore.StoreExport;
import io.bmcast.imagestore.Pusher;
import io.bmcast.imagestore.TransferProgress;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.mediator.Durability;
import io.bmcast.mediator.Hydrator;
import io.bmcast.mediator.ImageExtents;
import io.bmcast.mediator.MediatedDisk;
import io.bmcast.mediator.MediatorOptions;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.util.Jackson;
import io.bmcast.util.Units;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code bmcast bench fanout}: N deployments of one image start at the same moment against one object store behind
 * one emulated link, with and without peers. Each simulated node lives in this JVM and is the real data path: a
 * {@link MediatedDisk} and a {@link Hydrator} over the store image, whose chunks come through the fleet's own peer
 * path: the node's {@link ChunkFetcher} (its own cache dir, the other nodes' {@link PeerServer}s over loopback HTTP
 * along each chunk's tree, each node's uplink and downlink shaped, the store under a per-node cap). Each node replays
 * a real guest's boot trace against its disk: the replay's end is its time to ready; the hydrator finishing is its
 * time to local. Every chunk any node keeps is SHA-256-verified, and at the end every node's disk is compared with the
 * image.
 */
final class FanoutBench {
    static final String TOKEN = "fanout-bench-peer-token";

    record Options(List<Integer> nodes, List<Boolean> peers, long rate, long nodeRate, long latencyNs, int repeat, Path out,
            double injectCorrupt, int storeConcurrency, int prefetch, int chunkSize, Duration timeout, Pace pace) {}

    /**
     * How a node replays the trace. RECORDED: as the guest did. Each read waits for the one before it, then for the
     * time the guest took between them (its compute, seconds under TCG), so no read is issued before its recorded
     * time after the node's start, and a wait on bmcast is never hidden by compute that came after it. NONE: back to
     * back, a stress figure (what the data path does when nothing else takes time).
     */
    enum Pace {
        RECORDED, NONE;

        String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * One run of one (N, peers) mode. Times in seconds from the common start; -1 when it failed. Stall is a node's
     * time to ready less the trace's recorded duration: what bmcast added to its boot (with pace none, all of ready).
     */
    record Run(int nodes, boolean peers, int run, long storeBytes, long peerBytes, long cacheBytes, long storeBytesAtReady,
            double p50Ready, double p99Ready, double p50Local, double p99Local, long verified, long rejected,
            long peersDropped, int disksEqual, String error, double p50Stall, double p99Stall) {
        String mode() {
            return mode(nodes, peers);
        }

        static String mode(int nodes, boolean peers) {
            return "N=" + nodes + (peers ? " peers" : " store only");
        }
    }

    /** What every run shares: the image in the store, its manifest, the trace. */
    record Setup(StoreClient client, StoreLocation location, Manifest manifest, BootTrace trace, Path image,
            ImageExtents extents, Path work, String source) {
        long workingSet() {
            return trace.workingSetBytes(manifest);
        }
    }

    private FanoutBench() {}

    /** Pushes {@code image} to a fresh LocalS3 under {@code work}, runs every mode, writes the results. */
    static int run(Options o, Path image, BootTrace trace, String source, Path work) throws Exception {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(o.out());
        LocalS3.useLocalCredentials();
        try (LocalS3 s3 = LocalS3.start(work.resolve("s3"))) {
            StoreLocation loc = s3.location("fanout", "bench/image");
            try (StoreClient client = StoreClient.open(loc)) {
                client.ensureBucket();
                long t0 = System.nanoTime();
                Manifest m = push(client, loc, image, o.chunkSize());
                System.err.printf(Locale.ROOT, "fanout: pushed %s (%s of data in %d chunks, %s stored) in %.1f s%n", loc.display(),
                        Units.formatSize(m.allocatedBytes()), m.chunks().stream().filter(c -> c != null).count(),
                        Units.formatSize(m.storedBytes()), (System.nanoTime() - t0) / 1e9);
                ImageExtents extents = new ImageExtents(m.size(), m.dataExtents().toArray(long[][]::new));
                // Each node holds the image's data on its disk and its chunks in its cache, all at once.
                int maxN = o.nodes().stream().mapToInt(Integer::intValue).max().orElse(1);
                long need = maxN * (m.allocatedBytes() + m.storedBytes()) + (256L << 20);
                long free = Files.getFileStore(work).getUsableSpace();
                if (free < need) {
                    throw new IOException(String.format(Locale.ROOT, "N=%d needs %s free under %s, only %s is", maxN,
                            Units.formatSize(need), work.getParent(), Units.formatSize(free)));
                }
                Setup setup = new Setup(client, loc, m, trace, image, extents, work, source);
                return runModes(o, setup);
            }
        }
    }

    private static int runModes(Options o, Setup s) throws IOException {
        List<int[]> modes = new ArrayList<>(); // {nodes, peers 0/1}
        for (int n : o.nodes()) {
            for (boolean p : o.peers()) modes.add(new int[] {n, p ? 1 : 0});
        }
        List<Run> runs = new ArrayList<>();
        byte[] reference = imageData(s.image(), s.extents());
        for (Spread.Slot<int[]> slot : Spread.interleave(modes, o.repeat())) {
            int n = slot.mode()[0];
            boolean peers = slot.mode()[1] == 1;
            String tag = o.repeat() > 1 ? String.format(Locale.ROOT, "run %d/%d: ", slot.run(), o.repeat()) : "";
            System.err.println("fanout: --- " + tag + Run.mode(n, peers) + " ---");
            Path dir = Files.createDirectories(s.work().resolve("run"));
            Run r;
            try {
                r = once(o, s, n, peers, slot.run(), dir, reference);
            } catch (Exception e) {
                System.err.println("fanout: " + tag + Run.mode(n, peers) + " failed: " + e.getMessage());
                r = new Run(n, peers, slot.run(), -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, String.valueOf(e.getMessage()), -1, -1);
            } finally {
                BenchImageServer.removeTree(dir, "fanout");
            }
            runs.add(r);
            if (r.error() == null) {
                System.err.printf(Locale.ROOT, "fanout: %s%s: store egress %.2fx the working set, ready p50 %.2f s p99 %.2f s, "
                        + "stall p50 %.2f s p99 %.2f s, local p99 %.2f s, %s from peers, %d chunks rejected%n", tag, r.mode(),
                        r.storeBytes() / (double) s.workingSet(), r.p50Ready(), r.p99Ready(), r.p50Stall(), r.p99Stall(), r.p99Local(),
                        Units.formatSize(r.peerBytes()), r.rejected());
            }
        }
        FanoutTable table = new FanoutTable(runs, s.workingSet(), s.manifest().storedBytes(), o.pace(), s.trace().durationSeconds());
        String header = String.format(Locale.ROOT, "bench fanout: %s (%s image, %s of data, %s stored; working set %s in %d "
                        + "chunks of %s), %s, store link %s + %s latency, node links %s, store cap %d per node, %s",
                s.source(), Units.formatSize(s.manifest().size()), Units.formatSize(s.manifest().allocatedBytes()),
                Units.formatSize(s.manifest().storedBytes()), Units.formatSize(s.workingSet()),
                s.trace().chunks(s.manifest()).cardinality(), Units.formatSize(s.manifest().chunkSize()),
                o.pace() == Pace.RECORDED ? String.format(Locale.ROOT, "pace recorded (%d reads over the guest's %.2f s)",
                        s.trace().reads().size(), s.trace().durationSeconds())
                        : "pace none (" + s.trace().reads().size() + " reads back to back)",
                Units.formatRate(o.rate()), StartupBench.formatLatency(o.latencyNs()), Units.formatRate(o.nodeRate()),
                o.storeConcurrency(), s.trace().recorded() ? "1 real guest ran to record the trace"
                        : "0 real guests ran (boot trace " + s.trace().file() + ")");
        StringBuilder text = new StringBuilder(header).append('\n').append(table.format()).append(table.targets());
        if (o.injectCorrupt() > 0) {
            text.append(String.format(Locale.ROOT, "--inject-corrupt %.3f: the store and every peer flipped a byte in that share "
                    + "of their answers; every such chunk was rejected and fetched again (column 'rejected')%n", o.injectCorrupt()));
        }
        System.out.print(text);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("image", s.source());
        doc.put("imageBytes", s.manifest().size());
        doc.put("dataBytes", s.manifest().allocatedBytes());
        doc.put("storedBytes", s.manifest().storedBytes());
        doc.put("workingSetBytes", s.workingSet());
        doc.put("chunkSize", s.manifest().chunkSize());
        doc.put("traceReads", s.trace().reads().size());
        doc.put("traceSeconds", s.trace().durationSeconds());
        doc.put("pace", o.pace().id());
        doc.put("realGuestsRun", s.trace().recorded() ? 1 : 0);
        doc.put("storeLinkBytesPerSec", o.rate());
        doc.put("nodeLinkBytesPerSec", o.nodeRate());
        doc.put("latencyNs", o.latencyNs());
        doc.put("storeConcurrency", o.storeConcurrency());
        doc.put("prefetch", o.prefetch());
        doc.put("injectCorrupt", o.injectCorrupt());
        doc.put("repeat", o.repeat());
        doc.put("modes", table.toJson());
        Path json = o.out().resolve("results.json");
        Files.writeString(json, Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(doc) + "\n");
        Files.writeString(o.out().resolve("table.txt"), text.toString());
        Path egress = o.out().resolve("fanout-egress.png");
        Path ready = o.out().resolve("fanout-ready.png");
        BarChart.write(table.egressChart(header), egress);
        BarChart.write(table.readyChart(header), ready);
        Path stall = o.out().resolve("fanout-stall.png");
        BarChart.write(table.stallChart(header), stall);
        System.out.println("results: " + json.toAbsolutePath() + "\ncharts:  " + egress.toAbsolutePath() + ", " + ready.toAbsolutePath()
                + ", " + stall.toAbsolutePath());
        return table.failed() ? 1 : 0;
    }

    /** One fleet launch: N nodes start together, replay the trace, hydrate; then their disks are checked. */
    static Run once(Options o, Setup s, int n, boolean peers, int run, Path dir, byte[] reference) throws Exception {
        LinkEmulator storeLink = new LinkEmulator(TokenBucket.withDefaultBurst(o.rate()), o.latencyNs());
        EmulatedStore store = new EmulatedStore(s.client(), s.location(), storeLink, o.injectCorrupt(), 7L * run + n);
        List<Node> nodes = new ArrayList<>();
        {
            try {
                // Every node's peer server first (their addresses name the members), then each node's fetcher over all.
                for (int i = 0; i < n; i++) {
                    nodes.add(Node.open(o, dir.resolve(String.format(Locale.ROOT, "node-%03d", i)), peers, i));
                }
                List<URI> members = nodes.stream().map(Node::url).filter(u -> u != null).toList();
                for (Node node : nodes) node.connect(o, s, members, store);
                CountDownLatch go = new CountDownLatch(1);
                long[] readyNs = new long[n];
                long[] storeAtReady = new long[1];
                List<Thread> threads = new ArrayList<>();
                Exception[] failure = new Exception[1];
                long[] t0 = new long[1];
                for (int i = 0; i < n; i++) {
                    Node node = nodes.get(i);
                    int idx = i;
                    threads.add(Thread.ofPlatform().name("fanout-" + node.name()).start(() -> {
                        try {
                            go.await();
                            node.hydrator.start();
                            node.replay(s.trace(), o.pace(), t0[0]);
                            readyNs[idx] = System.nanoTime() - t0[0];
                        } catch (Exception e) {
                            synchronized (failure) {
                                if (failure[0] == null) failure[0] = e;
                            }
                            readyNs[idx] = -1;
                        }
                    }));
                }
                long cpu0 = processCpuNs();
                t0[0] = System.nanoTime();
                go.countDown();
                for (Thread t : threads) {
                    if (!t.join(o.timeout())) throw new TimeoutException(t.getName() + " was not ready within " + o.timeout());
                }
                storeAtReady[0] = store.bytesSent.get();
                long cpuAtReady = processCpuNs() - cpu0;
                if (failure[0] != null) throw failure[0];
                long bootNs = o.pace() == Pace.RECORDED ? Math.round(s.trace().durationSeconds() * 1e9) : 0;
                long[] stallNs = new long[n];
                for (int i = 0; i < n; i++) stallNs[i] = Math.max(0, readyNs[i] - bootNs);
                long[] localNs = new long[n];
                long deadline = System.nanoTime() + o.timeout().toNanos();
                for (int i = 0; i < n; i++) {
                    Node node = nodes.get(i);
                    localNs[i] = node.localAt.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS) - t0[0];
                }
                System.err.printf(Locale.ROOT, "fanout: %s: this process used %.1f s of CPU until the last node was ready, %.1f s "
                        + "until the last was local (%d cores)%n", Run.mode(n, peers), cpuAtReady / 1e9, (processCpuNs() - cpu0) / 1e9,
                        Runtime.getRuntime().availableProcessors());
                long peerBytes = 0, cacheBytes = 0, verified = 0, rejected = 0, dropped = 0;
                int equal = 0;
                for (Node node : nodes) {
                    ChunkFetcher.Counters c = node.fetcher.counters();
                    peerBytes += c.bytesFromPeers();
                    cacheBytes += c.bytesFromCache();
                    verified += c.chunksVerified();
                    rejected += c.chunksRejected();
                    dropped += node.fetcher.droppedPeers().size();
                }
                for (Node node : nodes) node.close();
                for (Node node : nodes) {
                    if (sameData(node.diskFile, s.extents(), reference)) equal++;
                }
                nodes.clear();
                if (equal != n) throw new IOException((n - equal) + " of " + n + " disks differ from the image");
                return new Run(n, peers, run, store.bytesSent.get(), peerBytes, cacheBytes, storeAtReady[0],
                        percentile(readyNs, 50), percentile(readyNs, 99), percentile(localNs, 50), percentile(localNs, 99),
                        verified, rejected, dropped, equal, null, percentile(stallNs, 50), percentile(stallNs, 99));
            } finally {
                for (Node node : nodes) node.close();
            }
        }
    }

    /** CPU time this process (every simulated node) has used, in ns. */
    private static long processCpuNs() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * The simulated nodes' disks are scratch files side by side on this machine's one disk: their fsyncs would
     * measure that disk queueing 100 nodes' flushes, not the fleet (each real node flushes its own disk).
     */
    static final Durability SCRATCH = new Durability() {
        @Override
        public void force(FileChannel channel, Path path, boolean metadata) {}

        @Override
        public void syncDirectory(Path dir) {}
    };

    /**
     * One simulated node, on the fleet's own path: its {@link ChunkCache}, a {@link ChunkFetcher} asking the other
     * nodes along each chunk's tree (loopback HTTP, {@link HttpChunkSource}) and then the store, all through the node's
     * downlink, a {@link PeerServer} answering the others from the cache or through the fetcher ({@link
     * ChunkFetcher#serve}: held, joined in flight, pulled through) over the node's uplink, and a mediated disk and
     * hydrator over a {@link StoreExport} of the fetcher.
     */
    static final class Node implements AutoCloseable {
        final ChunkCache cache;
        final PeerServer server;
        final LinkEmulator down;
        /** Set by {@link #connect}; the server's provider asks it, and answers 404 until then. */
        volatile ChunkFetcher fetcher;
        StoreExport export;
        MediatedDisk disk;
        Hydrator hydrator;
        Path diskFile;
        /** When the disk became wholly local (the hydrator's last region). */
        java.util.concurrent.CompletableFuture<Long> localAt;
        private final Path dir;
        private boolean closed;

        private Node(Path dir, ChunkCache cache, PeerServer server, LinkEmulator down) {
            this.dir = dir;
            this.cache = cache;
            this.server = server;
            this.down = down;
        }

        /** The node's cache and, with peers, its peer server (the uplink shaped). */
        static Node open(Options o, Path dir, boolean peers, int index) throws IOException {
            LinkEmulator down = new LinkEmulator(TokenBucket.withDefaultBurst(o.nodeRate()), 0);
            LinkEmulator up = new LinkEmulator(TokenBucket.withDefaultBurst(o.nodeRate()), 0);
            ChunkCache cache = ChunkCache.open(dir.resolve("cache"), 1L << 40);
            Node[] self = new Node[1];
            PeerServer server = !peers ? null
                    : PeerServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), null, cache, (sha, bg) -> {
                        ChunkFetcher f = self[0].fetcher;
                        return f == null ? null : f.serve(sha, bg);
                    }, () -> TOKEN, o.injectCorrupt(), up);
            self[0] = new Node(dir, cache, server, down);
            return self[0];
        }

        String name() {
            return dir.getFileName().toString();
        }

        /** This node's peer server, or null without peers. */
        URI url() {
            return server == null ? null : server.url();
        }

        /** The fetcher over the other {@code members} and the store, and the disk and hydrator over it. */
        void connect(Options o, Setup s, List<URI> members, EmulatedStore store) throws IOException {
            List<ChunkSource> sources = new ArrayList<>();
            for (URI u : members) {
                if (!u.equals(url())) sources.add(new Downlink(new HttpChunkSource(PeerList.memberName(u), u, TOKEN), down));
            }
            ChunkFetcher.Builder b = ChunkFetcher.builder(s.location().display(), s.manifest()).cache(cache)
                    .store(new Downlink(store, down)).storeConcurrency(o.storeConcurrency());
            if (server != null) b.peers(sources).tree(PeerList.memberName(url()), Set.of());
            fetcher = b.build();
            String name = name();
            MediatorOptions mo = MediatorOptions.of(name, "fanout:" + s.location().display())
                    .withRegionSize(s.manifest().chunkSize()).withBootProfile(s.trace().file()).withSourceExtents(s.extents())
                    .withDurability(SCRATCH);
            diskFile = dir.resolve("disk.img");
            // The disk's regions are chunks, each read once: a few decoded chunks in memory are enough.
            export = new StoreExport(name, fetcher, 4);
            disk = MediatedDisk.open(export, diskFile, dir.resolve("state"), mo);
            hydrator = new Hydrator(disk, Hydrator.Options.defaults().withWorkers(o.prefetch()));
            localAt = disk.hydrated().thenApply(v -> System.nanoTime());
        }

        /** The boot: every traced read in order, as the guest made them, at {@code pace} from {@code startNs}. */
        void replay(BootTrace trace, Pace pace, long startNs) throws IOException, InterruptedException {
            if (pace == Pace.RECORDED && !trace.timed()) {
                throw new IOException("the boot trace records no times (BMCPROF1): replay it with --pace none");
            }
            ByteBuffer buf = ByteBuffer.allocate(4 << 20);
            long doneNs = startNs; // when the read before this one returned (the node's start for the first)
            long latestMs = 0; // the latest recorded time so far: times may step back (see BootTrace.durationSeconds)
            for (long[] r : trace.reads()) {
                if (pace == Pace.RECORDED) {
                    long computeNs = Math.max(0, r[2] - latestMs) * 1_000_000;
                    latestMs = Math.max(latestMs, r[2]);
                    long waitNs = doneNs + computeNs - System.nanoTime();
                    if (waitNs > 0) Thread.sleep(Duration.ofNanos(waitNs));
                }
                long off = r[0];
                long left = Math.min(r[1], disk.size() - off);
                while (left > 0) {
                    buf.clear().limit((int) Math.min(buf.capacity(), left));
                    disk.read(off, buf);
                    off += buf.limit();
                    left -= buf.limit();
                }
                doneNs = System.nanoTime();
            }
        }

        @Override
        public synchronized void close() throws IOException {
            if (closed) return;
            closed = true;
            if (hydrator != null) hydrator.close();
            if (disk != null) disk.close();
            if (server != null) server.close();
            if (export != null) export.close();
        }
    }

    /** Pushes the image with the CLI's own {@link Pusher} (holes skipped, zstd where it pays) and reads back its manifest. */
    static Manifest push(StoreClient client, StoreLocation loc, Path image, int chunkSize) throws IOException {
        new Pusher(client, loc).push(new Pusher.Options(image, chunkSize, null, null, null, null, 8),
                new TransferProgress("push", "uploaded"));
        return client.manifest(loc);
    }

    /** The image's data extents, concatenated: what every node's disk must hold there. */
    static byte[] imageData(Path image, ImageExtents extents) throws IOException {
        long total = extents.dataBytes();
        if (total > Integer.MAX_VALUE - 16) throw new IOException("the image's data is too large to compare in memory");
        ByteBuffer out = ByteBuffer.allocate((int) total);
        try (FileChannel ch = FileChannel.open(image)) {
            for (long[] e : extents.extents()) {
                ByteBuffer slice = out.slice(out.position(), (int) e[1]);
                while (slice.hasRemaining() && ch.read(slice, e[0] + slice.position()) >= 0) {}
                out.position(out.position() + (int) e[1]);
            }
        }
        return out.array();
    }

    static boolean sameData(Path disk, ImageExtents extents, byte[] reference) throws IOException {
        return Arrays.equals(imageData(disk, extents), reference);
    }

    /** The nearest-rank percentile of the samples, in seconds; -1 when any failed. */
    static double percentile(long[] ns, int p) {
        long[] s = ns.clone();
        Arrays.sort(s);
        if (s.length == 0 || s[0] < 0) return -1;
        int rank = (int) Math.ceil(p / 100.0 * s.length);
        return s[Math.max(0, rank - 1)] / 1e9;
    }
}
