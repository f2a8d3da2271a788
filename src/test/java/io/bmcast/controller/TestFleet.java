package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.fleet.Api;
import io.bmcast.testing.TestServer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * One controller (on H2 or a fresh PostgreSQL database) and one real NBD image server holding two sparse
 * images: {@code small} (64 MiB, 2 MiB of data) and {@code big} (256 MiB, 1 MiB of data).
 */
final class TestFleet implements AutoCloseable {
    static final long MiB = 1 << 20;
    static final long SMALL_SIZE = 64 * MiB;
    static final long SMALL_DATA = 2 * MiB;
    static final long BIG_SIZE = 256 * MiB;
    static final TypeReference<List<Api.Instance>> INSTANCES = new TypeReference<>() {};
    static final TypeReference<List<Api.Node>> NODES = new TypeReference<>() {};
    static final TypeReference<List<Api.Event>> EVENTS = new TypeReference<>() {};
    static final TypeReference<List<Api.Image>> IMAGES = new TypeReference<>() {};

    /** The databases every lifecycle test runs on. */
    enum Db { H2, POSTGRESQL }

    final Path dir;
    final TestServer imageServer;
    final Controller controller;
    final ApiClient operator;

    private TestFleet(Path dir, TestServer imageServer, Controller controller) {
        this.dir = dir;
        this.imageServer = imageServer;
        this.controller = controller;
        this.operator = new ApiClient(controller.url(), controller.adminToken());
    }

    static TestFleet start(Db db, Path dir) throws Exception {
        return start(db, dir, ControllerConfig.DEFAULT_HEARTBEAT_TIMEOUT);
    }

    static TestFleet start(Db db, Path dir, Duration heartbeatTimeout) throws Exception {
        TestServer images = imageServer(dir);
        ControllerConfig config = ControllerConfig.defaults(dir.resolve("data")).withJdbcUrl(jdbcUrl(db))
                .withHeartbeatTimeout(heartbeatTimeout);
        return new TestFleet(dir, images, Controller.start(config));
    }

    static String jdbcUrl(Db db) throws Exception {
        return db == Db.POSTGRESQL ? PostgresFixture.shared().newDatabase() : null;
    }

    static TestServer imageServer(Path dir) throws IOException {
        Path small = sparse(dir.resolve("small.img"), SMALL_SIZE, 0, 8 * MiB);
        Path big = sparse(dir.resolve("big.img"), BIG_SIZE, 0);
        return TestServer.on(dir).file("small", small, false).file("big", big, false).tcp().start();
    }

    /** A sparse file of {@code size} with 1 MiB of data at each of {@code dataAt}. */
    static Path sparse(Path file, long size, long... dataAt) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            byte[] mib = new byte[(int) MiB];
            java.util.Arrays.fill(mib, (byte) 0x5a);
            for (long at : dataAt) {
                f.seek(at);
                f.write(mib);
            }
        }
        return file;
    }

    String uri(String image) {
        return imageServer.uri(image);
    }

    /** Adds {@code small} (or another of the server's images) as image {@code name}. */
    Api.Image addImage(String name, String export) {
        ApiClient.Response r = operator.post("/api/v1/images", new Api.NewImage(name, uri(export), null));
        assertEquals(201, r.status(), r.body());
        return r.as(Api.Image.class);
    }

    ProtocolAgent agent(String name, long diskBytes) {
        return new ProtocolAgent(controller.url(), controller.joinToken(), name, diskBytes);
    }

    /** A registered node whose first heartbeat reported a clean disk: available. */
    ProtocolAgent availableAgent(String name, long diskBytes) {
        ProtocolAgent a = agent(name, diskBytes);
        a.register();
        a.beat();
        return a;
    }

    ApiClient project(String name) {
        ApiClient.Response r = operator.post("/api/v1/tokens", new Api.NewToken(name));
        assertEquals(201, r.status(), r.body());
        return new ApiClient(controller.url(), r.as(Api.Token.class).token());
    }

    ApiClient as(String token) {
        return new ApiClient(controller.url(), token);
    }

    List<Api.Instance> launch(ApiClient who, String image, int count) {
        ApiClient.Response r = who.post("/api/v1/instances", new Api.Launch(image, count));
        assertEquals(201, r.status(), r.body());
        return r.as(INSTANCES);
    }

    Api.Instance instance(String id) {
        ApiClient.Response r = operator.get("/api/v1/instances/" + id);
        assertEquals(200, r.status(), r.body());
        return r.as(Api.Instance.class);
    }

    Api.Node node(String name) {
        return operator.get("/api/v1/nodes").as(NODES).stream().filter(n -> n.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no node " + name));
    }

    List<Api.Event> events() {
        return operator.get("/api/v1/events?after=0&limit=1000").as(EVENTS);
    }

    /** Polls {@code probe} until {@code done} holds (30 s at most); the last value. */
    static <T> T await(String what, Supplier<T> probe, Predicate<T> done) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        T v = probe.get();
        while (!done.test(v)) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what + "; last: " + v);
            Thread.sleep(50);
            v = probe.get();
        }
        return v;
    }

    @Override
    public void close() {
        controller.close();
        imageServer.close();
    }
}
