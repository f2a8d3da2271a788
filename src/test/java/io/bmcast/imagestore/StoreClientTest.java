package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store client against a real S3 server (S3Proxy in its own process): the settings S3-compatible servers need. */
class StoreClientTest {
    @TempDir static Path dir;
    static LocalS3 s3;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(dir);
        LocalS3.useLocalCredentials();
    }

    @AfterAll
    static void stop() {
        if (s3 != null) s3.close();
    }

    @Test
    void putGetHeadAndAManifestRoundTrip() throws Exception {
        StoreLocation img = s3.location("images", "fleet/busybox");
        try (StoreClient c = StoreClient.open(img)) {
            c.ensureBucket();
            c.ensureBucket(); // twice: exists already
            String key = img.chunkKey("ab".repeat(32));
            assertEquals(-1, c.head(key));
            assertNull(c.get(key));
            c.put(key, ByteBuffer.wrap("hello".getBytes(StandardCharsets.UTF_8)), "application/octet-stream");
            assertEquals(5, c.head(key));
            assertEquals("hello", StandardCharsets.UTF_8.decode(c.get(key)).toString());

            Manifest m = new Manifest(3L << 20, 1 << 20, java.util.Arrays.asList(
                    new Manifest.Chunk("cd".repeat(32), Manifest.Encoding.ZSTD, 1000), null,
                    new Manifest.Chunk("ef".repeat(32), Manifest.Encoding.RAW, 1 << 20)), null, null, null, List.of(), null, null);
            c.put(img.manifestKey(), ByteBuffer.wrap(m.toJson()), "application/json");
            Manifest back = c.manifest(img);
            assertEquals(m.chunks(), back.chunks());
            assertEquals(2L << 20, back.allocatedBytes());
            StoreException none = assertThrows(StoreException.class, () -> c.manifest(img.sibling("nope")));
            assertTrue(none.getMessage().contains("there is no image s3://images/fleet/nope"), none.getMessage());
        }
    }

    @Test
    void wrongCredentialsAreOneSentence() throws Exception {
        StoreLocation img = s3.location("images", "x");
        try (StoreClient ok = StoreClient.open(img)) {
            ok.ensureBucket();
        }
        String id = System.getProperty("aws.accessKeyId");
        System.setProperty("aws.accessKeyId", "somebody-else");
        try (StoreClient c = StoreClient.open(img)) {
            StoreException e = assertThrows(StoreException.class, () -> c.get(img.manifestKey()));
            assertTrue(e.permanent());
            assertTrue(e.getMessage().startsWith("bucket images at " + s3.endpoint() + " refused the credentials"), e.getMessage());
        } finally {
            System.setProperty("aws.accessKeyId", id);
        }
    }

    @Test
    void locationsReadBack() {
        StoreLocation l = StoreLocation.parse("s3://bkt/a/b/img@2?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1");
        assertEquals("a/b", l.prefix());
        assertEquals("img@2", l.name());
        assertEquals("a/b/chunks/ab/" + "ab".repeat(32), l.chunkKey("ab".repeat(32)));
        assertEquals("a/b/images/img@2/manifest.json", l.manifestKey());
        assertEquals(l, StoreLocation.parse(l.toString()));
        assertEquals("bkt/chunks/00/" + "0".repeat(64), "bkt/" + StoreLocation.parse("s3://bkt/x").chunkKey("0".repeat(64)));
        assertThrows(IllegalArgumentException.class, () -> StoreLocation.parse("s3://bkt"));
        assertThrows(IllegalArgumentException.class, () -> StoreLocation.parse("s3://BK/x"));
        assertThrows(IllegalArgumentException.class, () -> StoreLocation.parse("s3://bkt/../x"));
    }
}
