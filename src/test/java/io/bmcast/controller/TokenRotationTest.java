package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's and the join token live in the data directory's files: replacing a file and restarting the
 * controller (a rotation, e.g. after a leak) ends the old token, it does not stay valid beside the new one.
 */
class TokenRotationTest {
    @Test
    void aTokenReplacedInItsFileStopsWorkingAtTheNextStart(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("controller");
        String oldAdmin;
        String oldJoin;
        try (Controller c = Controller.start(ControllerConfig.defaults(data))) {
            oldAdmin = c.adminToken();
            oldJoin = c.joinToken();
            assertEquals(200, status(c, oldAdmin, "/api/v1/nodes"));
        }
        String newAdmin = "rotated-operator-token-0123456789abcdef";
        String newJoin = "rotated-join-token-0123456789abcdef";
        Files.writeString(data.resolve(AccessTokens.ADMIN_FILE), newAdmin + "\n");
        Files.writeString(data.resolve(AccessTokens.JOIN_FILE), newJoin + "\n");
        try (Controller c = Controller.start(ControllerConfig.defaults(data))) {
            assertEquals(newAdmin, c.adminToken());
            assertNotEquals(oldAdmin, newAdmin);
            assertEquals(200, status(c, newAdmin, "/api/v1/nodes"));
            assertEquals(401, status(c, oldAdmin, "/api/v1/nodes"), "the replaced operator's token still works");
            assertEquals(401, status(c, oldJoin, "/api/v1/images/none/extents"), "the replaced join token still works");
            assertEquals(404, status(c, newJoin, "/api/v1/images/none/extents"), "the new join token is heard (no such image)");
        }
    }

    private static int status(Controller c, String token, String path) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create(c.url() + path)).header("Authorization", "Bearer " + token).GET().build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }
}
