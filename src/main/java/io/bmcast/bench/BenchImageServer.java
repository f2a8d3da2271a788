package io.bmcast.bench;

import io.bmcast.guest.GuestImage;
import io.bmcast.guest.HostCommand;
import io.bmcast.imageserver.ImageServer;
import io.bmcast.storage.Extents;
import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.util.Units;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A guest's image served for a benchmark, as every mode of {@code bench startup} and {@code bench workload} sees it:
 * one emulated link, the export {@value #EXPORT} on a Unix socket in a temporary work dir, and a count of the bytes
 * read through it. Closing stops the server and removes the work dir.
 */
final class BenchImageServer implements AutoCloseable {
    static final String EXPORT = "image";

    private final String bench;
    final Path work;
    final Path socket;
    final FileExport file;
    final CountingExport counter;
    /** The image's allocated bytes (its data extents). */
    final long dataBytes;
    private final NbdServer server;

    private BenchImageServer(String bench, Path work, Path socket, FileExport file, CountingExport counter, long dataBytes,
            NbdServer server) {
        this.bench = bench;
        this.work = work;
        this.socket = socket;
        this.file = file;
        this.counter = counter;
        this.dataBytes = dataBytes;
        this.server = server;
    }

    /** {@code bench}: the prefix of the progress line and the work dir's name. */
    static BenchImageServer start(String bench, GuestImage image, long rate, long latencyNs) throws IOException {
        Path work = Files.createTempDirectory("bmcast-" + bench + "-");
        Path sock = work.resolve("image.sock");
        LinkEmulator link = new LinkEmulator(TokenBucket.withDefaultBurst(rate), latencyNs);
        FileExport file = new FileExport(EXPORT, "guest image", image.disk(), true);
        NbdServer server = null;
        try {
            long dataBytes = Extents.dataBytes(file);
            CountingExport counter = new CountingExport(ImageServer.wrap(file, link));
            server = new NbdServer(Map.of(EXPORT, counter), NbdServer.Config.defaults().withDefaultExport(EXPORT));
            server.start(Listener.unix(sock));
            System.err.printf(Locale.ROOT, "%s: image server on %s: %s image, %s of data, %s%n", bench, sock,
                    Units.formatSize(file.size()), Units.formatSize(dataBytes), link);
            return new BenchImageServer(bench, work, sock, file, counter, dataBytes, server);
        } catch (IOException | RuntimeException e) {
            if (server != null) server.close();
            removeTree(work, bench);
            throw e;
        }
    }

    @Override
    public void close() {
        server.close();
        removeTree(work, bench);
    }

    /** Removes a bench's scratch tree (disks, state dirs), staying on its file system; says so when it cannot. */
    static void removeTree(Path p, String bench) {
        try {
            if (Files.exists(p)) HostCommand.run(Duration.ofMinutes(5), List.of("rm", "-rf", "--one-file-system", p.toString()));
        } catch (IOException e) {
            System.err.println(bench + ": cannot remove " + p + ": " + e.getMessage());
        }
    }
}
