package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.storage.FileExport;
import io.bmcast.storage.FilterExport;
import io.bmcast.transport.Export;
import java.nio.ByteBuffer;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.imageserver.ImageServer;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The real {@code bmcast node} command as a subprocess over images served by our NBD server in this JVM (behind
 * an emulated link when asked), and {@code bmcast node status} run the way an operator runs it.
 */
final class NodeFixture implements AutoCloseable {
    final ClientTestProcesses procs;
    private final TestServer images;
    private final java.util.concurrent.atomic.AtomicLong bytesServed;
    private final java.util.concurrent.atomic.AtomicLong blockStatusCalls;

    private NodeFixture(ClientTestProcesses procs, TestServer images, java.util.concurrent.atomic.AtomicLong bytesServed,
            java.util.concurrent.atomic.AtomicLong blockStatusCalls) {
        this.procs = procs;
        this.images = images;
        this.bytesServed = bytesServed;
        this.blockStatusCalls = blockStatusCalls;
    }

    /** Block status queries the image server has answered so far. */
    long blockStatusCalls() {
        return blockStatusCalls.get();
    }

    /** Payload bytes the image server has sent so far, all exports together: what crossed the link. */
    long bytesServed() {
        return bytesServed.get();
    }

    /** Serves each {@code name -> file} read-only, all behind one link of {@code rate} (null: unlimited). */
    static NodeFixture serving(Map<String, Path> files, String rate) throws IOException {
        ClientTestProcesses procs = new ClientTestProcesses();
        try {
            LinkEmulator link = LinkEmulator.parse(rate, null);
            TestServer.Builder b = TestServer.on(procs.dir());
            java.util.concurrent.atomic.AtomicLong served = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicLong statusCalls = new java.util.concurrent.atomic.AtomicLong();
            for (var e : files.entrySet()) {
                Export file = ImageServer.wrap(new FileExport(e.getKey(), e.getKey(), e.getValue(), true), link);
                b.export(e.getKey(), new FilterExport(file) {
                    @Override
                    public void read(long offset, ByteBuffer dst) throws IOException {
                        int n = dst.remaining();
                        inner.read(offset, dst);
                        served.addAndGet(n);
                    }

                    @Override
                    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
                        statusCalls.incrementAndGet();
                        inner.blockStatus(offset, length, sink);
                    }
                });
            }
            return new NodeFixture(procs, b.start(), served, statusCalls);
        } catch (IOException | RuntimeException e) {
            procs.close();
            throw e;
        }
    }

    NbdUri uri(String export) {
        return NbdUri.unix(images.socket(), export);
    }

    /** The node's command-line arguments (after {@code node}). */
    static List<String> args(NbdUri image, Path disk, Path state, Path socket, String... more) {
        List<String> a = new ArrayList<>(List.of("node", "--image", image.toString(), "--disk", disk.toString(),
                "--state", state.toString(), "--socket", socket.toString()));
        a.addAll(List.of(more));
        return a;
    }

    /**
     * Starts {@code bmcast node} and waits until it serves; records its pid in {@code STATE/node.pid} as a
     * supervisor does.
     */
    ClientTestProcesses.Server startNode(NbdUri image, Path disk, Path state, Path socket, String... more)
            throws IOException {
        return procs.bmcastOn(socket, args(image, disk, state, socket, more).toArray(String[]::new));
    }

    /** {@code bmcast ARGS} to completion (bounded); the caller judges the exit code. */
    static Tools.Result bmcast(List<String> args) {
        return Tools.run(Duration.ofSeconds(90), ClientTestProcesses.bmcastCommand(args.toArray(String[]::new)));
    }

    /** {@link #bmcast(List)} with more environment (a store's credentials: {@code LocalS3.env()}). */
    static Tools.Result bmcast(List<String> args, Map<String, String> env) {
        return Tools.run(Duration.ofSeconds(90), env, ClientTestProcesses.bmcastCommand(args.toArray(String[]::new)));
    }

    /** {@code bmcast node status --state DIR}, required to succeed, parsed. */
    static Map<String, Object> nodeStatus(Path state) {
        Tools.Result r = bmcast(List.of("node", "status", "--state", state.toString())).requireSuccess("node status");
        try {
            return Jackson.MAPPER.readValue(r.stdout(), new TypeReference<Map<String, Object>>() {});
        } catch (IOException e) {
            throw new AssertionError("node status printed no JSON object: " + r.stdout(), e);
        }
    }

    /** Waits until the mediator writes a status with {@code phase}; returns it. */
    static Map<String, Object> awaitPhase(Path state, String phase, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, Object> s = NodeState.readStatus(state);
            if (s != null && phase.equals(s.get("phase"))) return s;
            if (System.nanoTime() > deadline) fail("phase " + phase + " not reached within " + timeout.toSeconds() + " s: " + s);
            Thread.sleep(100);
        }
    }

    /** A status written after this call: removes status.json and waits for the mediator to write it again. */
    static Map<String, Object> freshStatus(Path state) throws Exception {
        Files.deleteIfExists(state.resolve(NodeState.STATUS));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            Map<String, Object> s = NodeState.readStatus(state);
            if (s != null) return s;
            if (System.nanoTime() > deadline) fail("the mediator wrote no status within 30 s");
            Thread.sleep(50);
        }
    }

    static long number(Map<String, Object> status, String key) {
        return ((Number) status.get(key)).longValue();
    }

    @Override
    public void close() throws IOException {
        try {
            images.close();
        } finally {
            procs.close();
        }
    }
}
