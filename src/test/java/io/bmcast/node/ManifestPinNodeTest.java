package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TestImages;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.util.Sha256;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code node --manifest-sha256} as real processes against S3Proxy: the right pin serves the image; a mediator restarted
 * on a state dir whose kept manifest is not the pinned one refuses; and an ad-hoc {@code node --image s3://...}
 * without a pin still streams whatever manifest the store holds now.
 */
class ManifestPinNodeTest {
    static final int CHUNK = 1 << 20;

    @TempDir
    Path dir;

    @Test
    @Timeout(300)
    void thePinIsCheckedAtStartAndOnARestartAndTheUnpinnedPathStillWorks() throws Exception {
        try (LocalS3 s3 = LocalS3.start(dir.resolve("s3")); ClientTestProcesses procs = new ClientTestProcesses()) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "pin/node");
            byte[] image = TestImages.mixed(8, CHUNK, 5); // chunks 1 and 5: random, raw, 1 MiB stored each
            byte[] goodJson;
            Manifest good;
            try (StoreClient c = StoreClient.open(at)) {
                TestImages.push(c, at, image, CHUNK);
                goodJson = c.manifestBytes(at);
                good = Manifest.parse(goodJson, at.display());
            }
            String pin = Sha256.hex(goodJson);

            // The right pin: served and hydrated, the disk is the image.
            Path work = Files.createDirectories(dir.resolve("pinned"));
            ClientTestProcesses.Server node = procs.bmcastOn(work.resolve("node.sock"), LocalS3.env(),
                    NodeStoreTest.args(at, work, "--manifest-sha256", pin).toArray(String[]::new));
            NodeFixture.awaitPhase(work.resolve("state"), "hydrated", Duration.ofSeconds(120));
            assertEquals(0, procs.stop(node));
            assertArrayEquals(image, Files.readAllBytes(work.resolve("disk.img")));

            // The manifest kept in the state dir edited (entries 1 and 5 swapped): a restart refuses it, whatever the store holds.
            Manifest swapped = swap(good, 1, 5);
            byte[] swappedJson = swapped.toJson();
            Path kept = work.resolve("state").resolve(StoreSource.MANIFEST);
            assertArrayEquals(goodJson, Files.readAllBytes(kept), "the mediator keeps the manifest's exact bytes");
            Files.write(kept, swappedJson);
            Tools.Result restart = NodeFixture.bmcast(NodeStoreTest.args(at, work, "--manifest-sha256", pin), LocalS3.env());
            assertNotEquals(0, restart.exitCode(), restart.stderr());
            assertTrue(restart.stderr().contains("the manifest of " + at.display() + " changed since it was added (sha256 "
                    + Sha256.hex(swappedJson) + ", expected " + pin + "): push it again and add it again"), restart.stderr());
            assertArrayEquals(image, Files.readAllBytes(work.resolve("disk.img")), "the disk untouched by the refused restart");

            // A bad pin is a usage error, and so is a pin on an NBD image.
            Tools.Result bad = NodeFixture.bmcast(NodeStoreTest.args(at, work, "--manifest-sha256", "abc"), LocalS3.env());
            assertEquals(2, bad.exitCode(), bad.stderr());
            assertTrue(bad.stderr().contains("--manifest-sha256: 'abc' is not a manifest's SHA-256 (64 hex digits)"), bad.stderr());

            // Unpinned, ad hoc: whatever the store holds now (here the swapped manifest, every chunk verified) is served.
            try (StoreClient c = StoreClient.open(at)) {
                c.put(at.manifestKey(), ByteBuffer.wrap(swappedJson), "application/json");
            }
            Path adhoc = Files.createDirectories(dir.resolve("adhoc"));
            ClientTestProcesses.Server free = procs.bmcastOn(adhoc.resolve("node.sock"), LocalS3.env(),
                    NodeStoreTest.args(at, adhoc).toArray(String[]::new));
            NodeFixture.awaitPhase(adhoc.resolve("state"), "hydrated", Duration.ofSeconds(120));
            assertEquals(0, procs.stop(free));
            byte[] disk = Files.readAllBytes(adhoc.resolve("disk.img"));
            assertFalse(java.util.Arrays.equals(image, disk), "another disk than the one pushed: the gap a pin closes");
            assertArrayEquals(java.util.Arrays.copyOfRange(image, 5 * CHUNK, 6 * CHUNK), java.util.Arrays.copyOfRange(disk, CHUNK, 2 * CHUNK));
        }
    }

    static Manifest swap(Manifest m, int a, int b) {
        List<Manifest.Chunk> chunks = new ArrayList<>(m.chunks());
        assertEquals(chunks.get(a).storedSize(), chunks.get(b).storedSize(), "entries of one stored size");
        chunks.set(a, m.chunk(b));
        chunks.set(b, m.chunk(a));
        return new Manifest(m.size(), m.chunkSize(), chunks, m.kernel(), m.initrd(), m.append(), m.bootProfile(), m.parent(), m.createdAt());
    }
}
