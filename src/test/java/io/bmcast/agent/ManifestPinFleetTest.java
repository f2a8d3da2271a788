package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static io.bmcast.cli.MainTest.bmcast;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.cli.MainTest.Run;
import io.bmcast.fleet.Api;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.util.Jackson;
import io.bmcast.util.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The manifest pinned at {@code image add}, on a real fleet: the real CLI pushes an image to S3Proxy, a real controller
 * adds it (every chunk verified) and records its manifest's SHA-256; then someone who can write the bucket swaps two
 * entries of the same stored size. Every chunk still verifies, so nothing else notices. A launch on a real agent fails
 * with the reason in {@code ps} and the events, and no byte reaches the node's disk; {@code image verify} and
 * {@code node} refuse with the pin.
 */
class ManifestPinFleetTest {
    static final Duration WAIT = Duration.ofSeconds(120);
    static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    /** 6 MiB: chunks 0, 1 and 4 random (raw, 1 MiB stored each: same size, so swappable), 2 a hole, 3 and 5 text. */
    static byte[] image() {
        byte[] b = new byte[6 * MIB];
        Random r = new Random(13);
        for (int i : new int[] {0, 1, 4}) {
            byte[] x = new byte[MIB];
            r.nextBytes(x);
            System.arraycopy(x, 0, b, i * MIB, MIB);
        }
        for (int i : new int[] {3, 5}) {
            byte[] t = ("chunk " + i + " of the pinned image ").getBytes(StandardCharsets.US_ASCII);
            for (int j = 0; j < MIB; j++) b[i * MIB + j] = t[j % t.length];
        }
        return b;
    }

    @Test
    @Timeout(600)
    void aManifestSwappedAfterAddIsRefusedBeforeAByteReachesTheDisk() throws Exception {
        Path work = tmp.resolve("node-a");
        try (LocalS3 s3 = LocalS3.start(tmp.resolve("s3")); ControllerFixture c = new ControllerFixture(tmp)) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "pin/img");
            Path file = tmp.resolve("img.raw");
            Files.write(file, image());

            // push prints the manifest's digest; add records the same one, and the API shows it
            Run push = bmcast("image", "push", file.toString(), "--to", at.toString(), "--create-bucket", "--json");
            assertEquals(0, push.rc(), push.err());
            String pin = Jackson.MAPPER.readTree(push.out()).get("manifestSha256").asText();
            assertTrue(push.err().contains("; manifest sha256 " + pin), push.err());
            Manifest good;
            try (StoreClient store = StoreClient.open(at)) {
                byte[] bytes = store.manifestBytes(at);
                assertEquals(Sha256.hex(bytes), pin, "the digest of the object's exact bytes");
                good = Manifest.parse(bytes, at.display());
            }
            Api.Image added = c.addImage("pinned", at.toString());
            assertEquals(pin, added.manifestSha256());
            assertEquals(pin, c.images().getFirst().manifestSha256());

            // Entries 0 and 1 swapped: both raw chunks of 1 MiB, so every chunk still verifies against its name.
            List<Manifest.Chunk> swapped = new ArrayList<>(good.chunks());
            assertEquals(swapped.get(0).storedSize(), swapped.get(1).storedSize());
            swapped.set(0, good.chunk(1));
            swapped.set(1, good.chunk(0));
            Manifest tampered = new Manifest(good.size(), good.chunkSize(), swapped, null, null, null, List.of(), null, good.createdAt());
            byte[] tamperedJson = tampered.toJson();
            String changed = Sha256.hex(tamperedJson);
            try (StoreClient store = StoreClient.open(at)) {
                store.put(at.manifestKey(), ByteBuffer.wrap(tamperedJson), "application/json");
            }
            String sentence = "the manifest of " + at.display() + " changed since it was added (sha256 " + changed + ", expected " + pin
                    + "): push it again and add it again";

            // The gap the pin closes: without it, verify finds nothing wrong, since every chunk matches its name.
            Run unpinned = bmcast("image", "verify", at.toString());
            assertEquals(0, unpinned.rc(), unpinned.err() + unpinned.out());
            Run verify = bmcast("image", "verify", at.toString(), "--manifest-sha256", pin);
            assertEquals(1, verify.rc(), verify.out());
            assertTrue(verify.err().contains("bmcast: " + sentence), verify.err());
            Run pull = bmcast("image", "pull", at.toString(), tmp.resolve("pulled.raw").toString(), "--manifest-sha256", pin.toUpperCase());
            assertEquals(1, pull.rc(), pull.out());
            assertTrue(pull.err().contains(sentence), pull.err());
            assertFalse(Files.exists(tmp.resolve("pulled.raw")) || Files.exists(tmp.resolve("pulled.raw.part")));

            // node --manifest-sha256: refused before it serves or writes anything
            Path nodeDir = Files.createDirectories(tmp.resolve("node"));
            Tools.Result node = Tools.run(Duration.ofSeconds(90), LocalS3.env(), ClientTestProcesses.bmcastCommand("node", "--image",
                    at.toString(), "--disk", nodeDir.resolve("disk.img").toString(), "--state", nodeDir.resolve("state").toString(),
                    "--socket", nodeDir.resolve("node.sock").toString(), "--manifest-sha256", pin));
            assertNotEquals(0, node.exitCode(), node.stderr());
            assertTrue(node.stderr().contains(sentence), node.stderr());
            System.out.println("node: " + node.stderr().strip());
            assertFalse(Files.exists(nodeDir.resolve("node.sock")), "never served");
            assertTrue(!Files.exists(nodeDir.resolve("disk.img")) || allZero(nodeDir.resolve("disk.img")), "nothing written");

            // A launch on a real agent: the assignment carries the pin to instance run, whose mediator refuses.
            Machine.Config config = new Machine.Config(work, null, 16L * MIB, 256L << 20, Duration.ofSeconds(5), List.of());
            try (Agent a = new Agent("node-a", config, c.agentClient()).start()) {
                ControllerFixture.await(WAIT, "node-a available", unchecked(c::nodes), n -> n.size() == 1 && "available".equals(n.getFirst().state()));
                String id = c.launch("pinned", 1).getFirst().id();
                Api.Instance failed = ControllerFixture.await(WAIT, "instance " + id + " failed", unchecked(() -> c.instance(id)),
                        x -> "failed".equals(x.state()) || "running".equals(x.state()));
                assertEquals("failed", failed.state(), failed.toString());
                assertTrue(failed.reason().contains(sentence), failed.reason());
                System.out.println("ps: " + failed.id() + " failed: " + failed.reason());
                assertEquals(0, failed.chunksVerified() + failed.bytesFromStore(), failed.toString());
                String events = c.eventsText();
                assertTrue(events.contains(sentence), events);
                assertTrue(allZero(work.resolve("disk.img")), "no byte of the image reached the node's disk");
                // the agent's command line held the pin: it came with the assignment
                assertTrue(Files.readString(work.resolve("instance/state").resolve(io.bmcast.node.NodeState.CONFIG)).contains("manifestSha256=" + pin));
                c.destroy(id);
            }
        } finally {
            MachineTest.killSession(work);
        }
    }

    static boolean allZero(Path file) throws Exception {
        byte[] b = Files.readAllBytes(file);
        for (byte x : b) if (x != 0) return false;
        return true;
    }
}
