package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chunk socket between a node's peer server and the deployment on the node (issue 13, peers): a real
 * {@link ChunkFetcher} over S3Proxy served on a real Unix socket. A chunk of the image comes back verified (pulled
 * through the deployment's chain, and kept in its cache); a chunk of no image is "not in this image"; a chunk the
 * store lost is "failed" with the deployment's own sentence; a socket nobody listens on (the deployment ended, or
 * died and left its file) is "not listening". The frames refuse what is not one.
 */
class ChunkSocketTest {
    static final int CHUNK = 64 << 10;
    @TempDir static Path dir;
    static LocalS3 s3;
    static StoreClient client;
    static StoreLocation img;
    static Manifest manifest;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(dir.resolve("s3"));
        LocalS3.useLocalCredentials();
        img = s3.location("images", "fleet/socket");
        client = StoreClient.open(img);
        manifest = TestImages.push(client, img, TestImages.mixed(8, CHUNK, 5), CHUNK);
    }

    @AfterAll
    static void stop() {
        if (client != null) client.close();
        if (s3 != null) s3.close();
    }

    @Test
    void aChunkOfTheImageComesBackVerifiedAndOneOfNoImageIsNotInIt() throws Exception {
        Path socket = dir.resolve("ok.sock");
        ChunkCache cache = ChunkCache.open(dir.resolve("cache-ok"), 1L << 30);
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), manifest).cache(cache).store(ChunkFetcherTest.shared(client, img)).build();
             ChunkSocketServer server = ChunkSocketServer.start(socket, f::serve)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)), "the owner's alone");
            ChunkSocketClient c = new ChunkSocketClient(socket);
            for (int i = 0; i < manifest.chunkCount(); i++) {
                Manifest.Chunk chunk = manifest.chunk(i);
                if (chunk == null) continue;
                ByteBuffer got = c.provide(chunk.sha256(), i % 2 == 0);
                assertTrue(ChunkVerifier.verified(chunk, got), "chunk " + i + " verifies");
                assertTrue(cache.get(chunk.sha256()) != null, "pulled through the deployment, which kept it");
            }
            assertNull(c.provide(Sha256.hex(ByteBuffer.wrap("in no image".getBytes())), false), "not in this image");
            assertTrue(f.counters().chunksFromStore() > 0);
        }
        assertFalse(Files.exists(socket), "closed with the deployment: the socket is gone");
    }

    @Test
    void aChunkTheDeploymentCannotGetFailsWithItsSentence() throws Exception {
        // a manifest naming a chunk the store never had: the deployment's fetch fails for good
        String lost = Sha256.hex(ByteBuffer.wrap("a chunk nobody pushed".getBytes()));
        Manifest m = new Manifest(CHUNK, CHUNK, List.of(new Manifest.Chunk(lost, Manifest.Encoding.RAW, CHUNK)), null, null, null, List.of(), null, null);
        Path socket = dir.resolve("failed.sock");
        try (ChunkFetcher f = ChunkFetcher.builder(img.display(), m).store(ChunkFetcherTest.shared(client, img)).build();
             ChunkSocketServer ignored = ChunkSocketServer.start(socket, f::serve)) {
            IOException e = assertThrows(IOException.class, () -> new ChunkSocketClient(socket).provide(lost, false));
            assertFalse(e instanceof ChunkSocketClient.NotListening);
            assertTrue(e.getMessage().contains(lost) && e.getMessage().contains(img.display()), "the deployment's own sentence: " + e.getMessage());
        }
    }

    @Test
    void theBackgroundMarkReachesTheDeploymentAndAConnectionCarriesRequestsInTurn() throws Exception {
        Path socket = dir.resolve("marks.sock");
        List<Boolean> marks = new ArrayList<>();
        ByteBuffer body = ByteBuffer.wrap("stored bytes".getBytes());
        ChunkProvider p = (sha, background) -> {
            synchronized (marks) {
                marks.add(background);
            }
            return body.duplicate();
        };
        String sha = Sha256.hex(body.duplicate());
        try (ChunkSocketServer ignored = ChunkSocketServer.start(socket, p);
             SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            assertEquals(body, new ChunkSocketClient(socket).provide(sha, true));
            // two requests on one connection, the second written a byte at a time: answered in turn
            write(c, ChunkSocketFrames.request(sha, false));
            ByteBuffer second = ChunkSocketFrames.request(sha, true);
            while (second.hasRemaining()) {
                c.write(ByteBuffer.wrap(new byte[] {second.get()}));
            }
            for (int i = 0; i < 2; i++) {
                ByteBuffer head = read(c, ChunkSocketFrames.REPLY_HEADER_LENGTH);
                ChunkSocketFrames.ReplyHeader h = ChunkSocketFrames.replyHeader(head);
                assertEquals(ChunkSocketFrames.Status.OK, h.status());
                assertEquals(body, read(c, h.length()));
            }
        }
        assertEquals(List.of(true, false, true), marks);
    }

    @Test
    void aSocketNobodyListensOnIsNotListening() throws Exception {
        Path ended = dir.resolve("ended.sock");
        try (ChunkSocketServer ignored = ChunkSocketServer.start(ended, (sha, bg) -> null)) {
            assertTrue(ChunkSocketClient.listening(ended));
        }
        String sha = Sha256.hex(ByteBuffer.allocate(1));
        assertThrows(ChunkSocketClient.NotListening.class, () -> new ChunkSocketClient(ended).provide(sha, false), "ended: no file");
        // a deployment killed with -9 leaves its socket file behind, bound by nobody
        Path stale = dir.resolve("stale.sock");
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(stale));
        dead.close();
        assertTrue(Files.exists(stale));
        assertThrows(ChunkSocketClient.NotListening.class, () -> new ChunkSocketClient(stale).provide(sha, false), "a stale file");
        // the restarted deployment takes the path over
        try (ChunkSocketServer again = ChunkSocketServer.start(stale, (s, bg) -> null)) {
            assertNull(new ChunkSocketClient(stale).provide(sha, false));
            IOException busy = assertThrows(IOException.class, () -> ChunkSocketServer.start(stale, (s, bg) -> null));
            assertTrue(busy.getMessage().contains("in use"), busy.getMessage());
        }
    }

    @Test
    void framesThatAreNotOneAreRefusedByName() {
        String sha = Sha256.hex(ByteBuffer.allocate(1));
        ByteBuffer ok = ChunkSocketFrames.request(sha, true);
        assertEquals(new ChunkSocketFrames.Request(sha, true), assertDoesNotThrowRequest(ok));
        ByteBuffer magic = ChunkSocketFrames.request(sha, false);
        magic.put(0, (byte) 'X');
        assertTrue(assertThrows(ChunkSocketFrames.Malformed.class, () -> ChunkSocketFrames.request(magic)).getMessage().contains("BMCQ"));
        ByteBuffer flags = ChunkSocketFrames.request(sha, false);
        flags.put(4, (byte) 0x80);
        assertTrue(assertThrows(ChunkSocketFrames.Malformed.class, () -> ChunkSocketFrames.request(flags)).getMessage().contains("flags"));
        ByteBuffer upper = ChunkSocketFrames.request(sha, false);
        upper.put(5, (byte) 'G');
        assertTrue(assertThrows(ChunkSocketFrames.Malformed.class, () -> ChunkSocketFrames.request(upper)).getMessage().contains("hex"));
        assertThrows(IllegalArgumentException.class, () -> ChunkSocketFrames.request("ABC", false));

        ByteBuffer huge = ChunkSocketFrames.replyHeader(ChunkSocketFrames.Status.OK, ChunkSocketFrames.MAX_BODY + 1);
        assertTrue(assertThrows(ChunkSocketFrames.Malformed.class, () -> ChunkSocketFrames.replyHeader(huge)).getMessage().contains("at most"));
        ByteBuffer notEmpty = ChunkSocketFrames.replyHeader(ChunkSocketFrames.Status.NOT_IN_IMAGE, 1);
        assertThrows(ChunkSocketFrames.Malformed.class, () -> ChunkSocketFrames.replyHeader(notEmpty));
        ByteBuffer status = ChunkSocketFrames.replyHeader(ChunkSocketFrames.Status.OK, 0);
        status.put(4, (byte) 9);
        assertTrue(assertThrows(ChunkSocketFrames.Malformed.class, () -> ChunkSocketFrames.replyHeader(status)).getMessage().contains("status"));
        assertEquals(ChunkSocketFrames.MAX_SENTENCE, ChunkSocketFrames.sentence("é".repeat(2000)).remaining(), "cut to its bound, whole characters");
    }

    private static ChunkSocketFrames.Request assertDoesNotThrowRequest(ByteBuffer b) {
        try {
            return ChunkSocketFrames.request(b);
        } catch (ChunkSocketFrames.Malformed e) {
            throw new AssertionError(e);
        }
    }

    private static void write(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) c.write(b);
    }

    private static ByteBuffer read(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) throw new IOException("closed");
        }
        return b.flip();
    }
}
