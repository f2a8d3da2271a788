package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TestImages;
import io.bmcast.testing.ClientTestProcesses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The busybox sample guest boots from {@code s3://} through the real {@code instance run} (its own mediator process
 * with the AWS SDK on its class path, credentials from the environment) against a real S3 server that spoils some
 * of the chunks it sends: the guest gets ready, the disk hydrates and is de-virtualized, every data chunk verified
 * and the spoiled ones refused.
 */
class StoreBootTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(420)
    void busyboxBootsFromTheStoreWithEveryChunkVerified() throws Exception {
        try (Deployment d = Deployment.of(tmp); LocalS3 s3 = LocalS3.start(tmp.resolve("s3"))) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "samples/busybox");
            Manifest m;
            try (StoreClient c = StoreClient.open(at)) {
                m = TestImages.push(c, at, d.guest.disk(), Manifest.DEFAULT_CHUNK);
            }
            long dataChunks = m.chunks().stream().filter(x -> x != null).count();
            List<String> args = new java.util.ArrayList<>(d.instanceRunArgs("--stop-grace", "60s", "--chunk-cache",
                    tmp.resolve("chunk-cache").toString(), "--inject-corrupt", "0.1"));
            args.set(args.indexOf("--image") + 1, at.toString());
            Path log = tmp.resolve("instance.log");
            ProcessBuilder pb = new ProcessBuilder(ClientTestProcesses.bmcastCommand(args.toArray(String[]::new)))
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().putAll(LocalS3.env());
            Process p = pb.start();
            try {
                awaitEvent(d, p, log, "guest-ready");
                awaitEvent(d, p, log, "devirtualized");
                Map<String, Object> s = d.status();
                assertEquals(dataChunks, Deployment.number(s, "chunksVerified"), "every data chunk verified: " + s);
                long distinct = m.chunks().stream().filter(x -> x != null).distinct().mapToLong(Manifest.Chunk::storedSize).sum();
                // A chunk the image holds twice is fetched once; the second read finds it in the node's cache.
                assertTrue(Deployment.number(s, "bytesFromStore") >= distinct, s.toString());
                assertTrue(Deployment.number(s, "chunksRejected") > 0 || dataChunks < 10,
                        "a tenth of the store's answers spoiled and refused: " + s);
                p.destroy(); // SIGTERM: the guest is asked to power off
                assertTrue(p.waitFor(Deployment.EXIT.toSeconds(), TimeUnit.SECONDS), Files.readString(log));
                assertEquals(0, p.exitValue(), Files.readString(log));
            } finally {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            String nodeLog = Files.readString(d.state.resolve("node.log"));
            assertTrue(nodeLog.contains("s3://images/samples/busybox: " + m.chunkCount() + " chunks"), nodeLog);
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
        }
    }

    private static void awaitEvent(Deployment d, Process p, Path log, String name) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        while (!d.eventsText().contains("\"event\":\"" + name + "\"")) {
            if (!p.isAlive()) fail("instance run exited (" + p.exitValue() + ") before " + name + ":\n" + Files.readString(log));
            if (System.nanoTime() > deadline) fail("no " + name + " within 240 s:\n" + Files.readString(log));
            Thread.sleep(100);
        }
    }
}
