package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Boot files against a real controller over HTTP: streamed in pieces, tagged with their SHA-256, 304 when held. */
class BootFileTest {
    private static final int MiB = 1 << 20;

    @ParameterizedTest
    @EnumSource(TestFleet.Db.class)
    void kernelRoundTripsWithItsShaAsETag(TestFleet.Db db, @TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            byte[] kernel = random(3 * MiB + 12345, 1);
            byte[] initrd = random(200_000, 2);
            upload(fleet, "boots", kernel, initrd);
            ApiClient agent = fleet.as(fleet.controller.joinToken());
            HttpResponse<byte[]> r = ApiClient.HTTP.send(agent.request("/api/v1/images/boots/kernel").GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, r.statusCode());
            assertArrayEquals(kernel, r.body());
            String etag = r.headers().firstValue("ETag").orElseThrow();
            assertEquals("\"" + sha256(kernel) + "\"", etag);
            HttpResponse<byte[]> again = ApiClient.HTTP.send(agent.request("/api/v1/images/boots/kernel").header("If-None-Match", etag)
                    .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(304, again.statusCode());
            assertEquals(0, again.body().length);
            HttpResponse<byte[]> init = ApiClient.HTTP.send(agent.request("/api/v1/images/boots/initrd").header("If-None-Match", etag)
                    .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, init.statusCode(), "another file's tag does not match");
            assertArrayEquals(initrd, init.body());
            // Removed and added again under the same name with another kernel: another tag, the new bytes.
            assertEquals(204, fleet.operator.delete("/api/v1/images/boots").status());
            byte[] other = random(MiB, 3);
            upload(fleet, "boots", other, null);
            HttpResponse<byte[]> changed = ApiClient.HTTP.send(agent.request("/api/v1/images/boots/kernel").header("If-None-Match", etag)
                    .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, changed.statusCode());
            assertArrayEquals(other, changed.body());
        }
    }

    /**
     * A hundred clients each read the first 64 KiB of a 40 MiB kernel and stop reading: the controller holds a hundred
     * downloads under way. Read whole per download (as before), that is 4 GiB of heap (30 of them took 1.2 GiB); streamed, a
     * few pieces each.
     */
    @Test
    void slowDownloadsDoNotHoldTheFileInTheHeap(@TempDir Path dir) throws Exception {
        int readers = 100;
        int size = 40 * MiB;
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            upload(fleet, "big-kernel", random(size, 4), null);
            long before = usedHeapAfterGc();
            List<Socket> held = new ArrayList<>();
            try {
                URI u = URI.create(fleet.controller.url());
                for (int i = 0; i < readers; i++) {
                    Socket s = new Socket();
                    s.setReceiveBufferSize(64 << 10);
                    s.connect(new java.net.InetSocketAddress(u.getHost(), u.getPort()));
                    s.setSoTimeout(30_000);
                    s.getOutputStream().write(("GET /api/v1/images/big-kernel/kernel HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                            + fleet.controller.joinToken() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    readAtLeast(s.getInputStream(), 64 << 10);
                    held.add(s);
                }
                long during = usedHeapAfterGc();
                long grown = during - before;
                System.out.printf("heap with %d slow downloads of a %d MiB kernel: %d MiB before, %d MiB during (+%d MiB)%n", readers,
                        size / MiB, before / MiB, during / MiB, grown / MiB);
                assertTrue(grown < 256L * MiB, "the heap grew by " + grown / MiB + " MiB for " + readers + " downloads");
            } finally {
                for (Socket s : held) s.close();
            }
            // and the controller still serves it whole
            HttpResponse<InputStream> r = ApiClient.HTTP.send(fleet.as(fleet.controller.joinToken()).request("/api/v1/images/big-kernel/kernel")
                    .GET().build(), HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = r.body()) {
                assertEquals(size, in.transferTo(java.io.OutputStream.nullOutputStream()));
            }
        }
    }

    /** A boot file stored whole (before V5) is moved into chunks when the controller starts, and served as any other. */
    @Test
    void bootFilesStoredWholeAreMovedIntoChunksAtStart(@TempDir Path dir) throws Exception {
        byte[] legacy = random(300_000, 5);
        ControllerConfig config;
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            upload(fleet, "old", random(1000, 6), null);
            config = fleet.controller.config();
        }
        // as a controller before V5 left it: the content in the row, no digest, no chunks
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(config.effectiveJdbcUrl());
             java.sql.PreparedStatement up = c.prepareStatement("UPDATE image_files SET content = ?, sha256 = NULL, size_bytes = NULL");
             java.sql.Statement st = c.createStatement()) {
            up.setBytes(1, legacy);
            assertEquals(1, up.executeUpdate());
            st.executeUpdate("DELETE FROM boot_file_chunks");
        }
        try (Controller again = Controller.start(config)) {
            ApiClient agent = new ApiClient(again.url(), again.joinToken());
            HttpResponse<byte[]> r = ApiClient.HTTP.send(agent.request("/api/v1/images/old/kernel").GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, r.statusCode());
            assertArrayEquals(legacy, r.body());
            assertEquals("\"" + sha256(legacy) + "\"", r.headers().firstValue("ETag").orElseThrow());
        }
    }

    static void upload(TestFleet fleet, String name, byte[] kernel, byte[] initrd) throws Exception {
        String b = "bmcast-test-boundary";
        List<byte[]> parts = new ArrayList<>();
        parts.add(field(b, "name", null, name));
        parts.add(field(b, "uri", null, fleet.uri("small")));
        parts.add(field(b, "kernel", "vmlinuz", null));
        parts.add(kernel);
        parts.add("\r\n".getBytes(StandardCharsets.US_ASCII));
        if (initrd != null) {
            parts.add(field(b, "initrd", "initrd.img", null));
            parts.add(initrd);
            parts.add("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        parts.add(("--" + b + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        ApiClient.Response r = fleet.operator.send(fleet.operator.request("/api/v1/images")
                .header("Content-Type", "multipart/form-data; boundary=" + b).POST(HttpRequest.BodyPublishers.ofByteArrays(parts)));
        assertEquals(201, r.status(), r.body());
    }

    private static byte[] field(String boundary, String name, String filename, String value) {
        String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\""
                + (filename != null ? "; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream" : "") + "\r\n\r\n";
        return (head + (value != null ? value + "\r\n" : "")).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static void readAtLeast(InputStream in, int n) throws IOException {
        byte[] buf = new byte[8192];
        int total = 0;
        while (total < n) {
            int r = in.read(buf);
            if (r < 0) throw new IOException("the download ended after " + total + " bytes");
            total += r;
        }
    }

    private static long usedHeapAfterGc() throws InterruptedException {
        var memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}
