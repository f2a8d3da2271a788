package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.Api;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What a browser on another site, a leaked link and a stale token can do, against a real controller on H2
 * and PostgreSQL: a form's text/plain POST riding the dashboard's cookie, a foreign Origin, a cookie without
 * one; the join token or any token in a login link; and tokens listed by id, revoked and expired, an open
 * event stream included.
 */
@Timeout(120)
class WebSecurityTest {
    static final TypeReference<List<Api.TokenInfo>> TOKENS = new TypeReference<>() {};

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void aCookieCannotBeRiddenFromAnotherSiteAndLoginLinksTakeNoToken(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.availableAgent("n1", 1024 * MiB);
            fleet.addImage("busybox", "small");
            String url = fleet.controller.url();
            String cookie = login(fleet.controller.loginUrl());
            String launch = ApiClient.toJson(new Api.Launch("busybox", 1));

            // A cross-site form: text/plain, the cookie, the attacker's Origin (or none, as some old browsers send).
            ApiClient.Response form = send(post(url, launch, "text/plain").header("Cookie", cookie).header("Origin", "https://evil.test"));
            assertEquals(403, form.status(), form.body());
            ApiClient.Response plain = send(post(url, launch, "text/plain").header("Cookie", cookie).header("Origin", url));
            assertEquals(415, plain.status(), plain.body());
            assertTrue(plain.error().contains("application/json"), plain.body());
            ApiClient.Response noOrigin = send(post(url, launch, "application/json").header("Cookie", cookie));
            assertEquals(403, noOrigin.status(), noOrigin.body());
            ApiClient.Response foreignJson = send(post(url, launch, "application/json").header("Cookie", cookie).header("Origin", "http://127.0.0.1:1"));
            assertEquals(403, foreignJson.status(), foreignJson.body());
            // Not with a bearer token either: a mutating call says it carries JSON.
            ApiClient.Response bearerPlain = send(post(url, launch, "text/plain").header("Authorization", "Bearer " + fleet.controller.adminToken()));
            assertEquals(415, bearerPlain.status(), bearerPlain.body());
            assertEquals(List.of(), fleet.operator.get("/api/v1/instances").as(TestFleet.INSTANCES), "a refused request launched something");

            // Multipart is the operator's image upload only; from another site it is refused like the rest.
            String boundary = "b0undary";
            String parts = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nup\r\n--" + boundary
                    + "\r\nContent-Disposition: form-data; name=\"uri\"\r\n\r\n" + fleet.uri("small") + "\r\n--" + boundary + "--\r\n";
            String multipart = "multipart/form-data; boundary=" + boundary;
            ApiClient.Response launchForm = send(post(url, parts, multipart).header("Authorization", "Bearer " + fleet.controller.adminToken()));
            assertEquals(415, launchForm.status(), launchForm.body());
            ApiClient.Response crossUpload = send(upload(url, parts, multipart).header("Cookie", cookie).header("Origin", "https://evil.test"));
            assertEquals(403, crossUpload.status(), crossUpload.body());
            ApiClient.Response upload = send(upload(url, parts, multipart).header("Authorization", "Bearer " + fleet.controller.adminToken()));
            assertEquals(201, upload.status(), upload.body());

            // The dashboard itself: same origin, JSON, the cookie.
            ApiClient.Response own = send(post(url, launch, "application/json").header("Cookie", cookie).header("Origin", url));
            assertEquals(201, own.status(), own.body());

            // Login links take a one-time code, never a token: not the join token, not the operator's.
            for (String token : List.of(fleet.controller.joinToken(), fleet.controller.adminToken())) {
                HttpResponse<String> r = ApiClient.HTTP.send(HttpRequest.newBuilder(URI.create(url + "/login?token=" + token)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(401, r.statusCode(), r.body());
                assertTrue(r.headers().firstValue("Set-Cookie").isEmpty());
            }
            // The join token cannot ask for a login code either.
            assertEquals(403, fleet.as(fleet.controller.joinToken()).post("/api/v1/login-codes", Map.of()).status());
            // Plain HTTP: the cookie is not marked Secure (it could not come back), but HttpOnly and SameSite=Strict.
            HttpResponse<Void> r = ApiClient.HTTP.send(HttpRequest.newBuilder(URI.create(fleet.controller.loginUrl())).build(),
                    HttpResponse.BodyHandlers.discarding());
            String set = r.headers().firstValue("Set-Cookie").orElseThrow();
            assertTrue(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), set);
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void tokensAreListedByIdRevokedAtOnceAndExpire(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            ApiClient.Response made = fleet.operator.post("/api/v1/tokens", new Api.NewToken("blue", 30L * 86400));
            assertEquals(201, made.status(), made.body());
            Api.Token blue = made.as(Api.Token.class);
            assertTrue(blue.id().startsWith("tok-") && blue.expires() != null, made.body());
            ApiClient blueApi = fleet.as(blue.token());

            ApiClient.Response listed = fleet.operator.get("/api/v1/tokens");
            assertEquals(200, listed.status(), listed.body());
            List<Api.TokenInfo> tokens = listed.as(TOKENS);
            assertTrue(tokens.stream().anyMatch(t -> t.id().equals(blue.id()) && "blue".equals(t.project()) && t.expires() != null), listed.body());
            assertTrue(tokens.stream().anyMatch(t -> "operator".equals(t.role())) && tokens.stream().anyMatch(t -> "join".equals(t.role())));
            assertFalse(listed.body().contains(blue.token()), "the list shows a secret");
            assertFalse(listed.body().contains(AccessTokens.hash(blue.token())), "the list shows a hash");
            assertEquals(403, blueApi.get("/api/v1/tokens").status(), "a project lists no tokens");

            // A dashboard session opened with blue's login code, and an event stream on blue's token.
            String blueLink = fleet.controller.url() + blueApi.post("/api/v1/login-codes", Map.of()).as(Api.LoginCode.class).path();
            String blueCookie = login(blueLink);
            assertEquals(200, send(fleet.as(null).request("/api/v1/instances").header("Cookie", blueCookie).GET()).status());
            HttpResponse<InputStream> stream = ApiClient.HTTP.send(blueApi.request("/api/v1/events/stream").GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, stream.statusCode());
            try (InputStream in = stream.body()) {
                assertTrue(new String(in.readNBytes(8), StandardCharsets.UTF_8).startsWith(": "), "the stream's first comment");

                ApiClient.Response revoked = fleet.operator.delete("/api/v1/tokens/" + blue.id());
                assertEquals(200, revoked.status(), revoked.body());
                // The open stream ends now (the test's timeout, not a keepalive, bounds this read).
                in.readAllBytes();
            }
            ApiClient.Response after = blueApi.get("/api/v1/instances");
            assertEquals(401, after.status(), after.body());
            assertTrue(after.error().contains("revoked"), after.body());
            assertEquals(401, send(fleet.as(null).request("/api/v1/instances").header("Cookie", blueCookie).GET()).status(),
                    "a session opened with a revoked token ends with it");
            assertFalse(fleet.operator.get("/api/v1/tokens").body().contains(blue.id()));
            assertEquals(404, fleet.operator.delete("/api/v1/tokens/" + blue.id()).status());
            assertEquals(404, fleet.operator.delete("/api/v1/tokens/tok-nope").status());

            // The token files' tokens cannot be revoked: they would come back at the next start.
            String operatorId = fleet.operator.get("/api/v1/tokens").as(TOKENS).stream().filter(t -> "operator".equals(t.role()))
                    .findFirst().orElseThrow().id();
            assertEquals(409, fleet.operator.delete("/api/v1/tokens/" + operatorId).status());

            // An expiring token: valid, then refused, and its stream ends when it expires.
            Api.Token brief = fleet.operator.post("/api/v1/tokens", new Api.NewToken("brief", 2L)).as(Api.Token.class);
            HttpResponse<InputStream> briefStream = ApiClient.HTTP.send(fleet.as(brief.token()).request("/api/v1/events/stream").GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, briefStream.statusCode());
            try (InputStream in = briefStream.body()) {
                in.readAllBytes();
            }
            ApiClient.Response expired = fleet.as(brief.token()).get("/api/v1/instances");
            assertEquals(401, expired.status(), expired.body());
            assertEquals(400, fleet.operator.post("/api/v1/tokens", new Api.NewToken("neg", -5L)).status());
        }
    }

    /** A database from before token ids (schema V1, one project token): the token gets an id at start and still works. */
    @ParameterizedTest
    @EnumSource(Db.class)
    void tokensStoredBeforeIdsGetOneAndStillWork(Db db) throws Exception {
        ControllerConfig config = ControllerConfig.defaults(dir.resolve("data")).withJdbcUrl(TestFleet.jdbcUrl(db));
        String url = config.effectiveJdbcUrl();
        org.flywaydb.core.Flyway.configure().dataSource(url, null, null).locations("classpath:db/migration").target("1").load().migrate();
        String old = "bmc_a-project-token-from-before-ids";
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(url);
                java.sql.PreparedStatement ps = c.prepareStatement("INSERT INTO tokens (hash, role, project, created_at) VALUES (?, 'project', 'old', 1)")) {
            ps.setString(1, AccessTokens.hash(old));
            ps.executeUpdate();
        }
        try (Controller controller = Controller.start(config)) {
            ApiClient operator = new ApiClient(controller.url(), controller.adminToken());
            List<Api.TokenInfo> tokens = operator.get("/api/v1/tokens").as(TOKENS);
            Api.TokenInfo info = tokens.stream().filter(t -> "old".equals(t.project())).findFirst().orElseThrow();
            assertTrue(info.id() != null && info.id().startsWith("tok-"), tokens.toString());
            assertEquals(200, new ApiClient(controller.url(), old).get("/api/v1/instances").status());
            assertEquals(200, operator.delete("/api/v1/tokens/" + info.id()).status());
            assertEquals(401, new ApiClient(controller.url(), old).get("/api/v1/instances").status());
        }
    }

    private static HttpRequest.Builder post(String url, String body, String type) {
        return HttpRequest.newBuilder(URI.create(url + "/api/v1/instances")).header("Content-Type", type)
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private static HttpRequest.Builder upload(String url, String body, String type) {
        return HttpRequest.newBuilder(URI.create(url + "/api/v1/images")).header("Content-Type", type)
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    private static ApiClient.Response send(HttpRequest.Builder b) {
        return new ApiClient(null, null).send(b);
    }

    /** Opens a login link as a browser does; the session cookie ({@code name=value}). */
    static String login(String link) throws Exception {
        HttpResponse<Void> r = ApiClient.HTTP.send(HttpRequest.newBuilder(URI.create(link)).build(), HttpResponse.BodyHandlers.discarding());
        assertEquals(302, r.statusCode(), link);
        String set = r.headers().firstValue("Set-Cookie").orElseThrow();
        return set.substring(0, set.indexOf(';'));
    }
}
