package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.imagestore.ChunkCodec;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.node.NodeState;
import io.bmcast.storage.FileHoles;
import io.bmcast.testing.Tools;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peers story on a real fleet (issue 13, item 3): one controller, two real agents each with its chunk cache and
 * peer server, the busybox guest pushed to S3Proxy, real QEMU guests. The first launch streams from the store and
 * records the boot profile; the second, on the other node, gets the first node as its peer and takes its bytes from
 * it, with the profile; the first node's instance destroyed and scrubbed, the image launched there again comes
 * from its own cache, which the scrub left alone. Every chunk verified, every count visible in {@code ps --json}.
 */
class FleetPeersTest {
    static final Duration WAIT = Duration.ofSeconds(240);
    static final int CHUNK = 1 << 20;
    static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    @TempDir
    Path tmp;

    @Test
    @Timeout(1200)
    void theSecondNodeStreamsFromTheFirstAndARelaunchComesFromTheCache() throws Exception {
        Tools.assume("qemu-system-x86_64");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        Path workA = tmp.resolve("a");
        Path workB = tmp.resolve("b");
        try (LocalS3 s3 = LocalS3.start(tmp.resolve("s3")); ControllerFixture c = new ControllerFixture(tmp)) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "fleet/busybox");
            Manifest manifest;
            try (StoreClient store = StoreClient.open(at)) {
                manifest = pushSparse(store, at, guest.disk());
            }
            long data = manifest.chunks().stream().filter(x -> x != null).count();
            long distinct = manifest.chunks().stream().filter(x -> x != null).map(Manifest.Chunk::sha256).distinct().count();
            // each distinct chunk crosses the network once; a chunk the image holds twice comes from the cache the second time
            long distinctBytes = manifest.chunks().stream().filter(x -> x != null).distinct().mapToLong(Manifest.Chunk::storedSize).sum();
            c.addImage("busybox", at.toString(), guest.kernel(), guest.initrd(), guest.append());
            // the background copy held back, so that the boot reads on demand and the profile has something to record
            Machine.Config config = new Machine.Config(tmp.resolve("x"), null, 2 * guest.diskSize(), 256L << 20, Duration.ofSeconds(10),
                    List.of("--hydrate-rate", "24Mbit"));

            try (Peering pa = Peering.open(workA, 1L << 30, LOOPBACK, null, "rack1", null, 0);
                 Peering pb = Peering.open(workB, 1L << 30, LOOPBACK, null, "rack1", null, 0);
                 Agent a = new Agent("node-a", withWork(config, workA), c.agentClient()).peering(pa).start()) {
                ControllerFixture.await(WAIT, "node-a available", unchecked(c::nodes), n -> n.size() == 1 && "available".equals(n.getFirst().state()));

                // 1. The first launch: everything from the store, every chunk verified, the boot profile recorded.
                long t0 = System.nanoTime();
                String first = c.launch("busybox", 1).getFirst().id();
                Api.Instance i1 = devirtualized(c, first);
                double firstSeconds = (System.nanoTime() - t0) / 1e9;
                assertEquals("node-a", i1.node());
                assertEquals(data, i1.chunksVerified(), "every data chunk verified: " + i1);
                assertEquals(0, i1.chunksRejected());
                assertEquals(distinctBytes, i1.bytesFromStore(), i1.toString());
                assertEquals(0, i1.bytesFromPeers(), i1.toString());
                ControllerFixture.await(WAIT, "the boot profile recorded", unchecked(c::images),
                        l -> l.stream().anyMatch(Api.Image::hasBootProfile));
                String local = c.events().stream().filter(e -> first.equals(e.instanceId()) && e.message().contains(" devirtualized on node"))
                        .map(Api.Event::message).findFirst().orElseThrow();
                assertTrue(local.contains(" local: 0 from peers, ") && local.contains(data + " chunks verified, 0 rejected"), local);
                long cachedChunks = chunkFiles(Peering.cacheDir(workA));
                assertEquals(distinct, cachedChunks, "node-a's cache holds the image it streamed");

                // 2. node-b: the tracker names node-a; its bytes come from node-a, the profile with them.
                try (Agent bAgent = new Agent("node-b", withWork(config, workB), c.agentClient()).peering(pb).start()) {
                    ControllerFixture.await(WAIT, "node-b available", unchecked(c::nodes),
                            n -> n.stream().anyMatch(x -> x.name().equals("node-b") && "available".equals(x.state())));
                    String second = c.launch("busybox", 1).getFirst().id();
                    Path peersFile = workB.resolve("instance/peers");
                    ControllerFixture.await(WAIT, "node-b's peers file", () -> Files.exists(peersFile), x -> x);
                    Properties peers = properties(peersFile);
                    assertEquals(pa.peerUrl(), peers.getProperty("peers"), "node-a, the one node holding the image");
                    assertEquals(pa.token(), peers.getProperty("token"));
                    Api.Instance i2 = devirtualized(c, second);
                    assertEquals("node-b", i2.node());
                    assertEquals(data, i2.chunksVerified(), i2.toString());
                    assertEquals(distinctBytes, i2.bytesFromPeers(), "all from the peer: " + i2);
                    assertEquals(0, i2.bytesFromStore(), i2.toString());
                    assertTrue(properties(workB.resolve("instance/state").resolve(NodeState.CONFIG)).getProperty("bootProfile") != null,
                            "the second launch fetches in the recorded order");

                    // 3. node-a again, after its scrub: the cache survived it, and the relaunch comes from it.
                    c.destroy(first);
                    ControllerFixture.await(WAIT, "node-a scrubbed and available", unchecked(c::nodes),
                            n -> n.stream().anyMatch(x -> x.name().equals("node-a") && "available".equals(x.state())));
                    assertEquals(cachedChunks, chunkFiles(Peering.cacheDir(workA)), "the scrub left the chunk cache alone");
                    long t1 = System.nanoTime();
                    String third = c.launch("busybox", 1).getFirst().id();
                    Api.Instance i3 = devirtualized(c, third);
                    double relaunchSeconds = (System.nanoTime() - t1) / 1e9;
                    assertEquals("node-a", i3.node());
                    assertTrue(i3.bytesFromCache() >= distinctBytes, "the relaunch: all from the node's cache " + i3);
                    assertEquals(0, i3.bytesFromStore() + i3.bytesFromPeers(), i3.toString());
                    assertEquals(data, i3.chunksVerified());
                    System.out.printf("busybox (%d chunks, %.1f MiB stored) launch to devirtualized: first %.1f s (store), relaunch %.1f s "
                            + "(chunk cache, after a scrub); node-b from node-a: %d bytes from peers%n", data, manifest.storedBytes() / 1048576.0,
                            firstSeconds, relaunchSeconds, i2.bytesFromPeers());
                    c.destroy(third);
                    c.destroy(second);
                    ControllerFixture.await(WAIT, "both nodes scrubbed", unchecked(c::nodes),
                            n -> n.stream().allMatch(x -> "available".equals(x.state())));
                }
            }
        } finally {
            MachineTest.killSession(workA);
            MachineTest.killSession(workB);
        }
    }

    /** Waits for the instance to be devirtualized and for its final byte-source counts to reach the controller. */
    static Api.Instance devirtualized(ControllerFixture c, String id) throws InterruptedException {
        Api.Instance i = ControllerFixture.await(WAIT, "instance " + id + " devirtualized", unchecked(() -> c.instance(id)),
                x -> "devirtualized".equals(x.state()) || "failed".equals(x.state()));
        assertEquals("devirtualized", i.state(), i.toString());
        // the counts reach the controller with the report after the phase: wait for the final ones
        return ControllerFixture.await(WAIT, "instance " + id + "'s final counts", unchecked(() -> c.instance(id)),
                x -> x.chunksVerified() > 0 && x.fractionLocal() >= 0.999);
    }

    private static Machine.Config withWork(Machine.Config c, Path work) {
        return new Machine.Config(work, c.blockDevice(), c.diskBytes(), c.memoryBytes(), c.stopGrace(), c.instanceArgs(), c.scrub());
    }

    private static Properties properties(Path file) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
        }
        return p;
    }

    private static long chunkFiles(Path cache) throws IOException {
        try (Stream<Path> files = Files.walk(cache)) {
            return files.filter(p -> p.getFileName().toString().matches("[0-9a-f]{64}")).count();
        }
    }

    /** Pushes a sparse disk file: only the chunks its data extents touch (SEEK_DATA), all-zero ones as holes. */
    static Manifest pushSparse(StoreClient c, StoreLocation at, Path file) throws IOException {
        c.ensureBucket();
        long size = Files.size(file);
        int n = (int) ((size + CHUNK - 1) / CHUNK);
        List<Manifest.Chunk> chunks = new ArrayList<>(java.util.Collections.nCopies(n, (Manifest.Chunk) null));
        try (FileHoles holes = FileHoles.open(file, false); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long off = holes.nextData(0);
            while (off >= 0 && off < size) {
                int idx = (int) (off / CHUNK);
                ByteBuffer raw = ByteBuffer.allocate((int) Math.min(CHUNK, size - (long) idx * CHUNK));
                while (raw.hasRemaining() && ch.read(raw, (long) idx * CHUNK + raw.position()) > 0) {
                    // fill
                }
                raw.flip();
                if (!allZero(raw)) {
                    ChunkCodec.Encoded e = ChunkCodec.encode(raw);
                    String sha = Sha256.hex(e.stored());
                    c.put(at.chunkKey(sha), e.stored(), "application/octet-stream");
                    chunks.set(idx, new Manifest.Chunk(sha, e.encoding(), e.stored().remaining()));
                }
                off = holes.nextData((long) (idx + 1) * CHUNK);
            }
        }
        Manifest m = new Manifest(size, CHUNK, chunks, null, null, null, List.of(), null, null);
        c.put(at.manifestKey(), ByteBuffer.wrap(m.toJson()), "application/json");
        return m;
    }

    private static boolean allZero(ByteBuffer b) {
        for (int i = b.position(); i < b.limit(); i++) if (b.get(i) != 0) return false;
        return true;
    }
}
