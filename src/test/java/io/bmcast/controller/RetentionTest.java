package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The controller's stores stay bounded: console logs, events, replays, live streams, progress (real controller over HTTP). */
class RetentionTest {
    private static final int KiB = 1024;

    /** A guest printing 1.5 MiB: the controller keeps its last 1 MiB at most (the default), and says where it starts. */
    @Test
    void consoleLogIsCappedAndReadInPieces(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            fleet.addImage("img", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1L << 30);
            String id = fleet.launch(fleet.operator, "img", 1).getFirst().id();
            n1.beat();
            n1.take();
            int total = 0;
            for (int i = 0; i < 75; i++) {
                String line = String.format("%05d ", i) + "x".repeat(20 * KiB - 7) + "\n";
                n1.print(line);
                n1.beat();
                total += line.length();
            }
            HttpResponse<String> all = ApiClient.HTTP.send(fleet.operator.request("/api/v1/instances/" + id + "/console").GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, all.statusCode());
            String kept = all.body();
            assertTrue(kept.length() <= 1 << 20 && kept.length() >= 1 << 19, "kept " + kept.length() + " bytes of " + total);
            assertTrue(kept.endsWith(String.format("%05d ", 74) + "x".repeat(20 * KiB - 7) + "\n"), "the newest output is kept");
            long start = Long.parseLong(all.headers().firstValue("X-Console-Start").orElseThrow());
            assertEquals(total, Long.parseLong(all.headers().firstValue("X-Console-End").orElseThrow()));
            assertEquals(total - kept.length(), start, "the start says how much was dropped");
            long onDisk;
            try (Stream<Path> files = Files.walk(dir.resolve("data/console"))) {
                onDisk = files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
            }
            assertTrue(onDisk <= 1 << 20, "on disk: " + onDisk);
            ApiClient.Response piece = fleet.operator.get("/api/v1/instances/" + id + "/console?from=0&limit=100");
            assertEquals(100, piece.body().length(), "a piece from the oldest kept byte");
            assertEquals(kept.substring(0, 100), piece.body());
        }
    }

    /**
     * A deleted instance's console log goes after the retention, and its progress is forgotten: here an instance whose
     * scrub could not be verified (failed, its node freed) and then destroyed, a path that never dropped its progress.
     */
    @ParameterizedTest
    @EnumSource(TestFleet.Db.class)
    void deletedInstancesLeaveNoConsoleAndNoProgress(TestFleet.Db db, @TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withLimits(Limits.DEFAULTS.withConsole(64 * KiB, Duration.ZERO)))) {
            fleet.addImage("img", "small");
            ProtocolAgent n1 = fleet.availableAgent("n1", 1L << 30);
            String id = fleet.launch(fleet.operator, "img", 1).getFirst().id();
            n1.beat();
            n1.take();
            n1.phase("streaming");
            n1.progress(1 << 20, 2 << 20, 0.5);
            n1.print("hello\n");
            n1.beat();
            assertEquals(202, fleet.operator.delete("/api/v1/instances/" + id).status());
            n1.beat();
            n1.phase("scrubbing");
            n1.beat();
            n1.failed("the scrub could not be verified");
            n1.beat();
            assertEquals("failed", fleet.instance(id).state());
            assertEquals(202, fleet.operator.delete("/api/v1/instances/" + id).status());
            assertEquals("deleted", fleet.instance(id).state());
            assertEquals(1.0, tracked(fleet, "progress"), "the deleted instance's progress is still held before the sweep");
            fleet.controller.sweep();
            assertEquals("", fleet.operator.get("/api/v1/instances/" + id + "/console").body());
            assertTrue(Files.notExists(dir.resolve("data/console").resolve(id)), "the log's files are gone");
            assertEquals(0.0, tracked(fleet, "progress"), "no progress is held for a deleted instance");
            assertEquals(0.0, tracked(fleet, "console-offsets"));
        }
    }

    @ParameterizedTest
    @EnumSource(TestFleet.Db.class)
    void eventsArePrunedByCountAndReplayIsBounded(TestFleet.Db db, @TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir, c -> c.withLimits(Limits.DEFAULTS.withEvents(Duration.ofDays(7), 30).withReplayMax(10)))) {
            for (int i = 0; i < 60; i++) fleet.agent("n" + i, 1L << 30).register();
            List<Api.Event> before = fleet.events();
            assertEquals(60, before.size());
            // Replay from 0: one marker, then the newest ten.
            List<Api.Event> replay = stream(fleet.operator, 0, 11);
            assertEquals("events.skipped", replay.getFirst().type(), replay.getFirst().toString());
            assertEquals(before.get(49).id(), replay.getFirst().id(), "the marker's id is the last one skipped");
            assertTrue(replay.getFirst().message().contains("not replayed"), replay.getFirst().message());
            assertEquals(before.subList(50, 60), replay.subList(1, 11));

            fleet.controller.sweep();
            List<Api.Event> after = fleet.events();
            assertEquals(before.subList(30, 60), after, "the newest 30 are kept");
            // Replay from within what was pruned: the marker says up to where.
            List<Api.Event> resumed = stream(fleet.operator, before.get(5).id(), 11);
            assertEquals("events.skipped", resumed.getFirst().type());
            assertEquals(before.subList(50, 60), resumed.subList(1, 11));
        }
    }

    @Test
    void eventsArePrunedByAge(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir, c -> c.withLimits(Limits.DEFAULTS.withEvents(Duration.ofMillis(1), 1_000_000)))) {
            for (int i = 0; i < 5; i++) fleet.agent("n" + i, 1L << 30).register();
            assertEquals(5, fleet.events().size());
            Thread.sleep(20);
            fleet.controller.sweep();
            assertEquals(0, fleet.events().size());
        }
    }

    /** Eight streams per token by default: the ninth is refused with 429 and a sentence; another token is not affected. */
    @Test
    void theNinthStreamOfOneTokenIsRefused(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            ApiClient alpha = fleet.project("alpha");
            List<HttpResponse<java.io.InputStream>> open = new ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    HttpResponse<java.io.InputStream> r = openStream(alpha, -1);
                    assertEquals(200, r.statusCode());
                    open.add(r);
                }
                HttpResponse<java.io.InputStream> ninth = openStream(alpha, -1);
                if (ninth.statusCode() == 200) open.add(ninth); // closed below
                assertEquals(429, ninth.statusCode(), "a ninth stream of one token");
                String body = new String(ninth.body().readAllBytes(), StandardCharsets.UTF_8);
                assertEquals(429, ninth.statusCode(), body);
                assertTrue(body.contains("event streams open already"), body);
                HttpResponse<java.io.InputStream> other = openStream(fleet.operator, -1);
                assertEquals(200, other.statusCode());
                open.add(other);
            } finally {
                for (HttpResponse<java.io.InputStream> r : open) r.body().close();
            }
        }
    }

    private static double tracked(TestFleet fleet, String what) {
        String metrics = fleet.operator.get("/metrics").body();
        return metrics.lines().filter(l -> l.startsWith("bmcast_controller_tracked{") && l.contains("what=\"" + what + "\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst()
                .orElseThrow(() -> new AssertionError("no gauge for " + what + " in\n" + metrics));
    }

    private static HttpResponse<java.io.InputStream> openStream(ApiClient who, long lastEventId) throws Exception {
        var request = who.request("/api/v1/events/stream").timeout(Duration.ofMinutes(2));
        if (lastEventId >= 0) request.header("Last-Event-ID", Long.toString(lastEventId));
        return ApiClient.HTTP.send(request.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    /** The first {@code n} events of a stream resuming after {@code lastEventId}. */
    private static List<Api.Event> stream(ApiClient who, long lastEventId, int n) throws Exception {
        HttpResponse<java.io.InputStream> r = openStream(who, lastEventId);
        assertEquals(200, r.statusCode());
        List<Api.Event> out = new ArrayList<>();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            while (out.size() < n) {
                String line = lines.readLine();
                assertNotNull(line, "the stream ended after " + out);
                if (line.startsWith("data:")) out.add(Jackson.MAPPER.readValue(line.substring(5).strip(), Api.Event.class));
            }
        }
        return out;
    }
}
