package io.bmcast.transport;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.ClientTestProcesses.Server;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Sequential read of a whole export over a Unix socket, against nbdcopy on the same server and socket:
 * {@code mvn test -Dtest=NbdClientThroughputBenchmark -Dbench.size=4G}. Prints MB/s and ratios; asserts
 * nothing about time (the machine is shared). The server is nbdkit's {@code pattern} plugin (data computed
 * on the fly, no disk) or, with {@code -Dbench.file=PATH}, nbdkit {@code file}.
 */
class NbdClientThroughputBenchmark {
    private static final long SIZE = io.bmcast.util.Units.parseSize(System.getProperty("bench.size", "2G"));
    private static final int CHUNK = (int) io.bmcast.util.Units.parseSize(System.getProperty("bench.chunk", "1M"));
    private static final int ROUNDS = Integer.getInteger("bench.rounds", 3);

    @Test
    void sequentialRead() throws Exception {
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            String file = System.getProperty("bench.file");
            Server s = file == null ? procs.nbdkit("pattern", "size=" + SIZE) : procs.nbdkit("-r", "file", file);
            NbdUri uri = NbdUri.unix(s.socket(), "");
            System.out.printf("export: %s, %d MiB, chunk %d KiB%n", file == null ? "nbdkit pattern" : file, SIZE >> 20, CHUNK >> 10);
            for (int round = 1; round <= ROUNDS; round++) {
                double one = readAll(uri, 1);
                double eight = readAll(uri, 8);
                double copy = nbdcopy(procs, uri, 8);
                System.out.printf("round %d: bmcast 1 in flight %.0f MB/s | bmcast 8 in flight %.0f MB/s | nbdcopy 1 conn 8 req %.0f MB/s | ratio bmcast/nbdcopy %.2f%n",
                        round, one, eight, copy, eight / copy);
            }
        }
    }

    /** MB/s reading the export once, {@code depth} requests in flight (each a virtual thread, direct buffers). */
    private static double readAll(NbdUri uri, int depth) throws Exception {
        try (NbdClient c = NbdClient.connect(uri);
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            long size = c.size();
            AtomicLong next = new AtomicLong();
            long t0 = System.nanoTime();
            List<Future<?>> workers = new ArrayList<>();
            for (int i = 0; i < depth; i++) {
                workers.add(pool.submit(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                    long off;
                    while ((off = next.getAndAdd(CHUNK)) < size) {
                        b.clear().limit((int) Math.min(CHUNK, size - off));
                        c.read(off, b);
                    }
                    return null;
                }));
            }
            for (Future<?> f : workers) f.get();
            return size / 1e6 / ((System.nanoTime() - t0) / 1e9);
        }
    }

    private static double nbdcopy(ClientTestProcesses procs, NbdUri uri, int requests) throws Exception {
        long t0 = System.nanoTime();
        io.bmcast.testing.Tools.run(Duration.ofMinutes(5), "nbdcopy", "--connections=1", "--requests=" + requests,
                "--request-size=" + CHUNK, "--no-extents", uri.toString(), "null:").requireSuccess("nbdcopy");
        return SIZE / 1e6 / ((System.nanoTime() - t0) / 1e9);
    }
}
