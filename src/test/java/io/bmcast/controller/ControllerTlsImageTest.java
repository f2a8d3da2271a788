package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.fleet.Api;
import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An image behind a TLS-only image server registers on a controller given {@code --tls-dir} (its size and
 * extent map read over TLS), and is refused with a reason by one without.
 */
@Timeout(120)
class ControllerTlsImageTest {
    @TempDir
    Path dir;

    @Test
    void anNbdsImageIsProbedOverTls() throws Exception {
        Path certs = TestCerts.make(dir.resolve("pki"));
        Path small = TestFleet.sparse(dir.resolve("small.img"), TestFleet.SMALL_SIZE, 0, 8 * TestFleet.MiB);
        try (TestServer images = TestServer.on(dir).file("small", small, false).tcp().tls(certs, true).start()) {
            String uri = images.tlsUri("small");
            assertTrue(uri.startsWith("nbds://localhost:"), uri);
            // The same directory makes the controller speak HTTPS (it holds server-cert.pem): one layout for both.
            try (Controller c = Controller.start(ControllerConfig.defaults(dir.resolve("a")).withTlsDir(certs));
                    java.net.http.HttpClient https = java.net.http.HttpClient.newBuilder()
                            .sslContext(io.bmcast.fleet.ControllerTls.context(certs.resolve("ca-cert.pem"))).build()) {
                assertTrue(c.url().startsWith("https://"), c.url());
                ApiClient.Response r = new ApiClient(c.url(), c.adminToken(), https).post("/api/v1/images", new Api.NewImage("small", uri, null));
                assertEquals(201, r.status(), r.body());
                Api.Image image = r.as(Api.Image.class);
                assertEquals(TestFleet.SMALL_SIZE, image.sizeBytes());
                assertEquals(2 * TestFleet.MiB, image.allocatedBytes());
            }
            try (Controller c = Controller.start(ControllerConfig.defaults(dir.resolve("b")))) {
                ApiClient.Response r = new ApiClient(c.url(), c.adminToken()).post("/api/v1/images", new Api.NewImage("small", uri, null));
                assertEquals(422, r.status(), r.body());
                assertTrue(r.body().contains("--tls-dir"), r.body());
            }
        }
    }
}
