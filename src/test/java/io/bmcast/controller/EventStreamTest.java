package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The live event stream (SSE): resumes after Last-Event-ID, and shows a project its own events only. */
class EventStreamTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void theStreamResumesAfterTheLastEventIdAndFiltersByProject(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.availableAgent("n1", 1024 * MiB);
            fleet.addImage("busybox", "small");
            List<Api.Event> sofar = fleet.events();
            long firstId = sofar.getFirst().id();

            try (Sse all = Sse.open(fleet.operator, firstId); Sse alphaOnly = Sse.open(fleet.project("alpha"), -1)) {
                for (Api.Event e : sofar.subList(1, sofar.size())) assertEquals(e, all.next(), "the backlog after Last-Event-ID");
                Api.Instance a = fleet.launch(fleet.project("alpha"), "busybox", 1).getFirst();
                Api.Instance b = fleet.launch(fleet.operator, "busybox", 1).getFirst();
                List<String> live = new ArrayList<>();
                for (int i = 0; i < 4; i++) live.add(all.next().instanceId() + " " + all.last.type());
                assertTrue(live.containsAll(List.of(a.id() + " instance.pending", a.id() + " instance.scheduled",
                        b.id() + " instance.pending")), "live: " + live);
                Api.Event first = alphaOnly.next();
                assertEquals(a.id(), first.instanceId());
                assertEquals("alpha", first.project());
                assertEquals(a.id(), alphaOnly.next().instanceId(), "the waiting event, not the operator's instance");
            }
        }
    }

    /** A reader of the stream on its own thread. */
    private static final class Sse implements AutoCloseable {
        private final BlockingQueue<Api.Event> events = new LinkedBlockingQueue<>();
        private final Thread reader;
        private Stream<String> lines;
        Api.Event last;

        private Sse(ApiClient who, long lastEventId) throws Exception {
            var request = who.request("/api/v1/events/stream");
            if (lastEventId >= 0) request.header("Last-Event-ID", Long.toString(lastEventId));
            HttpResponse<Stream<String>> r = ApiClient.HTTP.send(request.timeout(java.time.Duration.ofMinutes(5)).build(),
                    HttpResponse.BodyHandlers.ofLines());
            assertEquals(200, r.statusCode());
            lines = r.body();
            reader = Thread.ofVirtual().start(() -> {
                try {
                    lines.forEach(line -> {
                        if (line.startsWith("data:")) {
                            try {
                                events.add(Jackson.MAPPER.readValue(line.substring(5).strip(), Api.Event.class));
                            } catch (java.io.IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    });
                } catch (RuntimeException closed) {
                    // the test closed the stream
                }
            });
        }

        static Sse open(ApiClient who, long lastEventId) throws Exception {
            return new Sse(who, lastEventId);
        }

        Api.Event next() throws InterruptedException {
            last = events.poll(30, TimeUnit.SECONDS);
            assertNotNull(last, "no event within 30 s");
            return last;
        }

        @Override
        public void close() {
            lines.close();
            reader.interrupt();
        }
    }
}
