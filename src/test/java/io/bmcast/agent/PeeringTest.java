package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.imagestore.ChunkSocketServer;
import io.bmcast.imagestore.HttpChunkSource;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.PeerList;
import io.bmcast.util.Sha256;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's side of a deployment's tree (issue 13, peers), with its real peer server on loopback: the peers file it
 * writes for {@code instance run} names this node ({@code self=}), the other members and the complete ones, and reads
 * back as the mediator reads it; the instance gets a chunk socket; and the peer server, asked for a chunk its cache
 * lacks, gets it from the deployment on that socket (waiting for one that is still starting), with the background
 * mark as asked, and answers 404 once the deployment ended.
 */
class PeeringTest {
    static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
    static final ImageSpec STORE_IMAGE = new ImageSpec("busybox", "s3://images/fleet/busybox", 1 << 20, 1 << 20, null, null, null);

    @TempDir
    Path dir;

    @Test
    void thePeersFileNamesThisNodeTheOtherMembersAndTheCompleteOnesAndReadsBack() throws Exception {
        try (Peering p = Peering.open(dir.resolve("work"), 1L << 30, LOOPBACK, null, "z1", null, 0)) {
            p.token("bmp_fleet");
            Path instance = Files.createDirectories(dir.resolve("work/instance"));
            String self = p.peerUrl();
            List<String> members = List.of("http://10.0.0.1:7301", "http://10.0.0.2:7301", self);
            List<String> args = p.instanceArgs(STORE_IMAGE, members, List.of("http://10.0.0.2:7301", self), instance);
            Path file = instance.resolve("peers");
            assertEquals(file.toString(), args.get(args.indexOf("--peers") + 1));
            assertEquals(instance.resolve(Peering.CHUNK_SOCKET).toString(), args.get(args.indexOf("--chunk-socket") + 1));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));

            PeerList read = PeerList.read(file);
            assertEquals(URI.create(self), read.self());
            assertEquals(List.of(URI.create("http://10.0.0.1:7301"), URI.create("http://10.0.0.2:7301")), read.peers(), "itself left out");
            assertEquals("bmp_fleet", read.token());
            assertEquals(PeerList.memberName(URI.create(self)), read.selfName());
            assertEquals(Set.of("peer 10.0.0.2:7301", read.selfName()), read.completeNames());
            assertEquals(List.of("peer 10.0.0.1:7301", "peer 10.0.0.2:7301"), read.sources().stream().map(s -> s.name()).toList(),
                    "the members by the names the tree uses");

            // A controller that lists a few peers (no complete list): asked in order, no self, no chunk socket.
            List<String> old = p.instanceArgs(STORE_IMAGE, List.of("http://10.0.0.1:7301"), null, instance);
            assertFalse(old.contains("--chunk-socket"), old.toString());
            PeerList plain = PeerList.read(file);
            assertNull(plain.self());
            assertEquals(List.of(), plain.complete());
            assertEquals(List.of(URI.create("http://10.0.0.1:7301")), plain.peers());
        }
    }

    @Test
    void thePeerServerFallsBackToTheDeploymentOnTheNodeUntilItEnds() throws Exception {
        try (Peering p = Peering.open(dir.resolve("work"), 1L << 30, LOOPBACK, null, null, null, 0)) {
            p.token("bmp_fleet");
            Path instance = Files.createDirectories(dir.resolve("work/instance"));
            p.instanceArgs(STORE_IMAGE, List.of(), List.of(), instance);
            Path socket = instance.resolve(Peering.CHUNK_SOCKET);
            byte[] stored = "a chunk as stored".getBytes();
            Manifest.Chunk chunk = new Manifest.Chunk(Sha256.hex(ByteBuffer.wrap(stored)), Manifest.Encoding.ZSTD, stored.length);
            List<Boolean> marks = new ArrayList<>();
            HttpChunkSource peer = new HttpChunkSource("peer", URI.create(p.peerUrl()), "bmp_fleet");

            // asked while the deployment is still starting: held until its socket listens, not sent to the store
            CompletableFuture<ByteBuffer> early = CompletableFuture.supplyAsync(() -> {
                try {
                    return peer.fetch(chunk);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            ChunkSocketServer deployment = null;
            try {
                Thread.sleep(300);
                deployment = ChunkSocketServer.start(socket, (sha, background) -> {
                    synchronized (marks) {
                        marks.add(background);
                    }
                    return sha.equals(chunk.sha256()) ? ByteBuffer.wrap(stored) : null;
                });
                assertEquals(ByteBuffer.wrap(stored), early.join(), "the starting deployment's answer");
                assertEquals(ByteBuffer.wrap(stored), peer.fetch(chunk));
                assertNull(peer.fetch(new Manifest.Chunk(Sha256.hex(ByteBuffer.allocate(3)), Manifest.Encoding.ZSTD, 3)),
                        "a chunk of no image here: 404");
                assertEquals(200, status(p.peerUrl() + "/v1/chunks/" + chunk.sha256() + "?background=1"));
                assertEquals(List.of(false, false, false, true), marks, "the background mark as asked");
            } finally {
                if (deployment != null) deployment.close();
            }
            // the deployment ended (destroyed): 404 at once, the cache alone
            p.instanceEnded(instance);
            assertNull(peer.fetch(chunk));
            assertTrue(p.server().chunksServed() >= 3);
        }
    }

    private static int status(String url) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(URI.create(url))
                .header("Authorization", "Bearer bmp_fleet").build(), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
    }
}
