package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.Api;
import io.bmcast.testing.TestServer;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's boot-file cache against a real controller: kept by ETag, asked with If-None-Match, never fetched twice. */
class BootFilesTest {
    @Test
    void keepsBootFilesByETagAndFetchesChangedOnesAgain(@TempDir Path tmp) throws Exception {
        Path img = tmp.resolve("small.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        byte[] first = random(2 << 20, 1);
        byte[] second = random(1 << 20, 2);
        Path kernel = Files.write(tmp.resolve("vmlinuz"), first);
        try (TestServer images = TestServer.on(tmp).file("small", img, false).tcp().start();
                ControllerFixture c = new ControllerFixture(tmp)) {
            Api.Image added = c.addImage("boots", images.uri("small"), kernel, null, null);
            ImageSpec spec = new ImageSpec("boots", images.uri("small"), added.sizeBytes(), added.allocatedBytes(),
                    "/api/v1/images/boots/kernel", null, null);
            BootFiles cache = new BootFiles(tmp.resolve("cache"), c.agentClient());

            Path got = cache.fetch(spec).kernel();
            assertArrayEquals(first, Files.readAllBytes(got));
            Object fileKey = Files.readAttributes(got, BasicFileAttributes.class).fileKey();
            long modified = Files.getLastModifiedTime(got).toMillis();

            Path again = cache.fetch(spec).kernel();
            assertEquals(got, again);
            assertEquals(fileKey, Files.readAttributes(again, BasicFileAttributes.class).fileKey(), "the copy was not replaced");
            assertEquals(modified, Files.getLastModifiedTime(again).toMillis());
            String metrics = get(c, "/metrics");
            assertTrue(metrics.lines().anyMatch(l -> l.contains("/kernel") && l.contains("status=\"304\"")),
                    "the second fetch asked with If-None-Match and got 304:\n" + metrics);

            // The image removed and added again under the same name and URI with another kernel: the new one.
            assertEquals(204, c.http.send(request(c, "/api/v1/images/boots").DELETE().build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            c.addImage("boots", images.uri("small"), Files.write(kernel, second), null, null);
            Path replaced = cache.fetch(spec).kernel();
            assertArrayEquals(second, Files.readAllBytes(replaced));
            // ...and the old kernel is not kept for ever beside it: one content per boot path.
            try (var kept = Files.list(replaced.getParent())) {
                assertEquals(java.util.List.of(replaced.getFileName().toString()),
                        kept.map(p -> p.getFileName().toString()).filter(n -> n.matches("[0-9a-f]{64}")).toList());
            }
        }
    }

    private static String get(ControllerFixture c, String path) throws Exception {
        HttpResponse<String> r = c.http.send(request(c, path).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static HttpRequest.Builder request(ControllerFixture c, String path) {
        return HttpRequest.newBuilder(URI.create(c.controller.url() + path)).header("Authorization", "Bearer " + c.controller.adminToken());
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }
}
