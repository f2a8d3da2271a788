package io.bmcast.imageserver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TestImages;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.util.Sha256;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code image-server --store s3://...} read by the real NBD tools: nbdinfo sees the size and the holes, nbdcopy
 * and qemu-img read the pushed bytes exactly.
 */
class ImageServerStoreTest {
    static final int CHUNK = 1 << 20;
    static final Duration T = Duration.ofSeconds(90);
    @TempDir Path dir;

    @Test
    @Timeout(300)
    void nbdToolsReadAStoreImageAsTheyReadAFile() throws Exception {
        Tools.assume("nbdinfo", "nbdcopy", "qemu-img");
        byte[] image = TestImages.mixed(12, CHUNK, 3);
        Path file = dir.resolve("pushed.raw");
        Files.write(file, image);
        try (LocalS3 s3 = LocalS3.start(dir.resolve("s3")); ClientTestProcesses procs = new ClientTestProcesses()) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "fleet/mixed");
            Manifest m;
            String pin;
            try (StoreClient c = StoreClient.open(at)) {
                m = TestImages.push(c, at, image, CHUNK);
                pin = Sha256.hex(c.manifestBytes(at));
            }
            Path sock = procs.path("images.sock");
            procs.bmcastOn(sock, LocalS3.env(), "image-server", "--store", "s3://images/fleet/mixed", "--endpoint",
                    s3.endpoint().toString(), "--socket", sock.toString(), "--chunk-cache", dir.resolve("cache").toString(),
                    "--manifest-sha256", pin);
            String uri = "nbd+unix:///mixed?socket=" + sock;

            assertEquals(String.valueOf(image.length), Tools.run(T, "nbdinfo", "--size", uri).requireSuccess("nbdinfo --size").stdout().strip());
            // The map: one line per extent, "offset length type description"; holes where the manifest has them.
            List<long[]> holes = new ArrayList<>();
            for (String line : Tools.run(T, "nbdinfo", "--map", uri).requireSuccess("nbdinfo --map").stdout().strip().split("\n")) {
                String[] f = line.strip().split("\\s+");
                if (Integer.parseInt(f[2]) == 3) holes.add(new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])});
            }
            List<long[]> expected = new ArrayList<>();
            for (int i = 0; i < m.chunkCount(); i++) if (m.chunk(i) == null) expected.add(new long[] {(long) i * CHUNK, CHUNK});
            assertEquals(expected.size(), holes.size(), "one hole per hole chunk (none adjacent here)");
            for (int i = 0; i < holes.size(); i++) assertArrayEquals(expected.get(i), holes.get(i));

            Path copy = dir.resolve("copy.raw");
            Tools.run(T, "nbdcopy", uri, copy.toString()).requireSuccess("nbdcopy");
            assertArrayEquals(image, Files.readAllBytes(copy), "nbdcopy's copy is the pushed file");
            Tools.Result cmp = Tools.run(T, "qemu-img", "compare", "-f", "raw", "-F", "raw", file.toString(), uri.replace("nbd+unix:///mixed?socket=", "nbd:unix:") + ":exportname=mixed");
            assertEquals(0, cmp.exitCode(), cmp.stdout() + cmp.stderr());
            assertTrue(cmp.stdout().contains("Images are identical"), cmp.stdout());
        }
    }

    @Test
    @Timeout(120)
    void aMissingImageIsOneSentence() throws Exception {
        try (LocalS3 s3 = LocalS3.start(dir.resolve("s3"))) {
            LocalS3.useLocalCredentials();
            try (StoreClient c = StoreClient.open(s3.location("images", "x"))) {
                c.ensureBucket();
            }
            Tools.Result r = Tools.run(T, LocalS3.env(), ClientTestProcesses.bmcastCommand("image-server", "--store",
                    s3.location("images", "fleet/nope").toString(), "--socket", dir.resolve("s.sock").toString()));
            assertEquals(1, r.exitCode(), r.stderr());
            assertEquals("bmcast: there is no image s3://images/fleet/nope in bucket images at " + s3.endpoint()
                    + " (no fleet/images/nope/manifest.json)", r.stderr().strip());
        }
    }

    @Test
    @Timeout(120)
    void aManifestThatIsNotThePinnedOneIsNotServed() throws Exception {
        try (LocalS3 s3 = LocalS3.start(dir.resolve("s3"))) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "fleet/pinned");
            String actual;
            try (StoreClient c = StoreClient.open(at)) {
                TestImages.push(c, at, TestImages.mixed(4, CHUNK, 9), CHUNK);
                actual = Sha256.hex(c.manifestBytes(at));
            }
            String pinned = "ab".repeat(32);
            Path sock = dir.resolve("s.sock");
            Tools.Result r = Tools.run(T, LocalS3.env(), ClientTestProcesses.bmcastCommand("image-server", "--store", at.toString(),
                    "--manifest-sha256", pinned.toUpperCase(), "--socket", sock.toString()));
            assertEquals(1, r.exitCode(), r.stderr());
            assertEquals("bmcast: the manifest of s3://images/fleet/pinned changed since it was added (sha256 " + actual + ", expected "
                    + pinned + "): push it again and add it again", r.stderr().strip());
            assertFalse(Files.exists(sock), "never listened");
            Tools.Result two = Tools.run(T, LocalS3.env(), ClientTestProcesses.bmcastCommand("image-server", "--store", at.toString(),
                    "--store", at.sibling("other").toString(), "--manifest-sha256", actual, "--socket", sock.toString()));
            assertEquals(2, two.exitCode(), two.stderr());
            assertTrue(two.stderr().contains("give one --manifest-sha256 for each --store, in the same order (1 for 2)"), two.stderr());
        }
    }
}
