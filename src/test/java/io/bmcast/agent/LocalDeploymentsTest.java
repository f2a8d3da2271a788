package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.imagestore.ChunkSocketServer;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer server's fallback to the deployments on its node, over real chunk sockets, with the clock passed in: a
 * deployment still starting is waited for (bounded), one that was heard and has ended is not (the demo's second wave
 * stalled 5 s a chunk on a first node whose cache had evicted part of the image and whose mediator had exited), nor
 * one that died and left its socket file, nor one the agent saw end.
 */
class LocalDeploymentsTest {
    static final String SHA = "ab".repeat(32);

    @TempDir
    Path dir;

    /** A clock that moves one second each time it is read, and counts the reads. */
    static final class Steps implements java.util.function.LongSupplier {
        final AtomicLong reads = new AtomicLong();

        @Override
        public long getAsLong() {
            return reads.incrementAndGet() * 1_000_000_000L;
        }
    }

    @Test
    void aDeploymentStillStartingIsWaitedForUpToItsBound() throws Exception {
        Steps clock = new Steps();
        LocalDeployments d = new LocalDeployments(clock);
        d.starting(dir.resolve("chunks.sock"));
        assertNull(d.provide(SHA, false), "nobody came: the cache alone after the wait");
        long reads = clock.reads.get();
        assertTrue(reads >= LocalDeployments.STARTUP_WAIT.toSeconds(), "it polled until its bound, one second a read: " + reads);
    }

    @Test
    void aDeploymentHeardAndEndedIsNotWaitedFor() throws Exception {
        Steps clock = new Steps();
        LocalDeployments d = new LocalDeployments(clock);
        Path socket = dir.resolve("chunks.sock");
        d.starting(socket);
        ByteBuffer chunk = ByteBuffer.wrap("stored".getBytes());
        try (ChunkSocketServer ignored = ChunkSocketServer.start(socket, (sha, bg) -> chunk.duplicate())) {
            assertEquals(chunk, d.provide(SHA, false));
        }
        long before = clock.reads.get();
        assertNull(d.provide(SHA, false), "de-virtualized, its mediator gone: the cache alone");
        assertTrue(clock.reads.get() - before <= 3, "at once, no polling: " + (clock.reads.get() - before) + " reads");

        // the agent saw its guest run: a later start on the same path is not waited for either once seen started
        d.starting(socket);
        d.started(socket);
        before = clock.reads.get();
        assertNull(d.provide(SHA, false));
        assertTrue(clock.reads.get() - before <= 3, "seen started: no polling");
    }

    @Test
    void aDeadDeploymentsSocketFileOrAnEndedOneIsNotWaitedFor() throws Exception {
        Steps clock = new Steps();
        LocalDeployments d = new LocalDeployments(clock);
        Path stale = dir.resolve("stale.sock");
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(stale));
        dead.close(); // a mediator killed with -9 leaves its socket file
        d.starting(stale);
        long before = clock.reads.get();
        assertNull(d.provide(SHA, false));
        assertTrue(clock.reads.get() - before <= 3, "a stale file: no polling");

        Path gone = dir.resolve("gone.sock");
        d.starting(gone);
        d.ended(gone);
        d.ended(stale);
        assertTrue(d.sockets().isEmpty(), "the agent saw them end: not asked at all");
        assertNull(d.provide(SHA, false));
    }
}
