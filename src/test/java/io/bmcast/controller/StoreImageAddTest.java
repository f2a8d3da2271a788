package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TestImages;
import io.bmcast.util.Sha256;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code image add} of an {@code s3://} image against a real controller over HTTP (H2 and PostgreSQL) and a real
 * S3 server: metadata and boot files from the manifest and the store, every chunk verified, a manifest that does
 * not match its chunks refused with the chunk named.
 */
class StoreImageAddTest {
    static final int CHUNK = 1 << 20;
    @TempDir static Path dir;
    static LocalS3 s3;
    static StoreClient client;
    static StoreLocation at;
    static Manifest manifest;
    static byte[] kernel;
    static byte[] initrd;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(dir.resolve("s3"));
        LocalS3.useLocalCredentials();
        at = s3.location("images", "fleet/booting");
        client = StoreClient.open(at);
        Manifest m = TestImages.push(client, at, TestImages.mixed(10, CHUNK, 17), CHUNK);
        kernel = random(700_000, 1);
        initrd = random(300_000, 2);
        for (byte[] f : List.of(kernel, initrd)) client.put(at.fileKey(Sha256.hex(f)), ByteBuffer.wrap(f), "application/octet-stream");
        manifest = m.withBoot(new Manifest.BootFile(Sha256.hex(kernel), kernel.length), new Manifest.BootFile(Sha256.hex(initrd), initrd.length),
                "console=ttyS0 root=/dev/vda rw");
        client.put(at.manifestKey(), ByteBuffer.wrap(manifest.toJson()), "application/json");
    }

    @AfterAll
    static void stop() {
        if (client != null) client.close();
        if (s3 != null) s3.close();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Writes {@code m} as the manifest of image {@code name} beside the good one. */
    static StoreLocation publish(String name, Manifest m) throws Exception {
        StoreLocation other = at.sibling(name);
        client.put(other.manifestKey(), ByteBuffer.wrap(m.toJson()), "application/json");
        return other;
    }

    @ParameterizedTest
    @EnumSource(TestFleet.Db.class)
    void aStoreImageIsReadFromItsManifestAndEveryChunkIsChecked(TestFleet.Db db, @TempDir Path work) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, work)) {
            ApiClient.Response r = fleet.operator.post("/api/v1/images", new Api.NewImage("booting", at.toString(), null));
            assertEquals(201, r.status(), r.body());
            Api.Image img = r.as(Api.Image.class);
            assertEquals(manifest.size(), img.sizeBytes());
            assertEquals(manifest.allocatedBytes(), img.allocatedBytes());
            assertTrue(img.hasKernel() && img.hasInitrd(), r.body());
            assertEquals("console=ttyS0 root=/dev/vda rw", img.append());
            // the manifest verified is pinned (V7): the digest of its exact bytes, kept and listed
            assertEquals(Sha256.hex(manifest.toJson()), img.manifestSha256(), r.body());
            assertEquals(img.manifestSha256(), fleet.operator.get("/api/v1/images").as(Api.Image[].class)[0].manifestSha256());
            ApiClient agent = fleet.as(fleet.controller.joinToken());
            HttpResponse<byte[]> k = ApiClient.HTTP.send(agent.request("/api/v1/images/booting/kernel").GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertArrayEquals(kernel, k.body());
            HttpResponse<byte[]> i = ApiClient.HTTP.send(agent.request("/api/v1/images/booting/initrd").GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertArrayEquals(initrd, i.body());
            Api.ImageExtents ex = agent.get("/api/v1/images/booting/extents").as(Api.ImageExtents.class);
            assertEquals(manifest.dataExtents().size(), ex.data().size());
            for (int n = 0; n < ex.data().size(); n++) assertArrayEquals(manifest.dataExtents().get(n), ex.data().get(n));

            // A chunk's name edited by hand: the store has no such chunk.
            List<Manifest.Chunk> edited = new ArrayList<>(manifest.chunks());
            Manifest.Chunk real = edited.get(5);
            String bogus = "0".repeat(64);
            edited.set(5, new Manifest.Chunk(bogus, real.encoding(), real.storedSize()));
            StoreLocation renamed = publish("renamed", new Manifest(manifest.size(), CHUNK, edited, null, null, null, List.of(), null, null));
            ApiClient.Response refused = fleet.operator.post("/api/v1/images", new Api.NewImage("renamed", renamed.toString(), null));
            assertEquals(422, refused.status(), refused.body());
            assertTrue(refused.body().contains("image refused: chunk " + bogus + " (chunk 5 at offset " + 5L * CHUNK
                    + ") of s3://images/fleet/renamed is missing from the store"), refused.body());

            // A chunk's size edited by hand: the object is there, but it is not what the manifest says.
            edited = new ArrayList<>(manifest.chunks());
            Manifest.Chunk zstd = null;
            int at5 = -1;
            for (int n = 0; n < edited.size(); n++) {
                if (edited.get(n) != null && edited.get(n).encoding() == Manifest.Encoding.ZSTD) {
                    zstd = edited.get(n);
                    at5 = n;
                    break;
                }
            }
            edited.set(at5, new Manifest.Chunk(zstd.sha256(), zstd.encoding(), zstd.storedSize() + 1));
            StoreLocation resized = publish("resized", new Manifest(manifest.size(), CHUNK, edited, null, null, null, List.of(), null, null));
            ApiClient.Response bad = fleet.operator.post("/api/v1/images", new Api.NewImage("resized", resized.toString(), null));
            assertEquals(422, bad.status(), bad.body());
            assertTrue(bad.body().contains("chunk " + zstd.sha256() + " (chunk " + at5 + " at offset " + (long) at5 * CHUNK
                    + ") of s3://images/fleet/resized does not match its SHA-256"), bad.body());

            // Neither was added.
            List<Api.Image> all = List.of(fleet.operator.get("/api/v1/images").as(Api.Image[].class));
            assertEquals(List.of("booting"), all.stream().map(Api.Image::name).toList());

            // An image that is not there: one sentence.
            ApiClient.Response none = fleet.operator.post("/api/v1/images", new Api.NewImage("nope", at.sibling("nope").toString(), null));
            assertEquals(422, none.status(), none.body());
            assertTrue(none.body().contains("there is no image s3://images/fleet/nope"), none.body());
        }
    }
}
