package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A real controller (H2 under a temp dir) in this JVM, and the operator's side of its REST API, for tests that
 * run agents against it.
 */
final class ControllerFixture implements AutoCloseable {
    static final TypeReference<List<Api.Instance>> INSTANCES = new TypeReference<>() {};
    static final TypeReference<List<Api.Node>> NODES = new TypeReference<>() {};

    final Controller controller;
    final HttpClient http = ControllerClient.sharedHttp();

    ControllerFixture(Path dir) throws IOException {
        this.controller = Controller.start(ControllerConfig.defaults(dir.resolve("controller")));
    }

    /** A client as an agent has one: the join token as bearer. */
    ControllerClient agentClient() {
        return new ControllerClient(URI.create(controller.url()), controller.joinToken(), http);
    }

    /** Adds an image with a kernel (and initrd, or null) to boot it with (multipart, as {@code image add --kernel} sends it). */
    Api.Image addImage(String name, String uri, Path kernel, Path initrd, String append) throws Exception {
        String boundary = "bmcast-test-boundary";
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        part(body, boundary, "name", null, name.getBytes(StandardCharsets.UTF_8));
        part(body, boundary, "uri", null, uri.getBytes(StandardCharsets.UTF_8));
        if (append != null) part(body, boundary, "append", null, append.getBytes(StandardCharsets.UTF_8));
        if (kernel != null) part(body, boundary, "kernel", "vmlinuz", Files.readAllBytes(kernel));
        if (initrd != null) part(body, boundary, "initrd", "initrd.img", Files.readAllBytes(initrd));
        body.write(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> r = http.send(request("/api/v1/images").header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, r.statusCode(), r.body());
        return Jackson.MAPPER.readValue(r.body(), Api.Image.class);
    }

    private static void part(ByteArrayOutputStream out, String boundary, String field, String filename, byte[] content) throws IOException {
        out.write(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\""
                + (filename == null ? "" : "; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream") + "\r\n\r\n")
                .getBytes(StandardCharsets.UTF_8));
        out.write(content);
        out.write("\r\n".getBytes(StandardCharsets.UTF_8));
    }

    Api.Image addImage(String name, String uri) throws Exception {
        return post("/api/v1/images", new Api.NewImage(name, uri, null), 201, Api.Image.class);
    }

    List<Api.Instance> launch(String image, int count) throws Exception {
        String body = send(request("/api/v1/instances").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Jackson.MAPPER.writeValueAsBytes(new Api.Launch(image, count)))), 201);
        return Jackson.MAPPER.readValue(body, INSTANCES);
    }

    void destroy(String id) throws Exception {
        send(request("/api/v1/instances/" + id).DELETE(), 202);
    }

    List<Api.Instance> instances() throws Exception {
        return Jackson.MAPPER.readValue(send(request("/api/v1/instances?all=true").GET(), 200), INSTANCES);
    }

    Api.Instance instance(String id) throws Exception {
        return Jackson.MAPPER.readValue(send(request("/api/v1/instances/" + id).GET(), 200), Api.Instance.class);
    }

    List<Api.Node> nodes() throws Exception {
        return Jackson.MAPPER.readValue(send(request("/api/v1/nodes").GET(), 200), NODES);
    }

    List<Api.Image> images() throws Exception {
        return Jackson.MAPPER.readValue(send(request("/api/v1/images").GET(), 200), new TypeReference<List<Api.Image>>() {});
    }

    List<Api.Event> events() throws Exception {
        return Jackson.MAPPER.readValue(send(request("/api/v1/events?after=0&limit=1000").GET(), 200), new TypeReference<List<Api.Event>>() {});
    }

    String console(String id) throws Exception {
        return send(request("/api/v1/instances/" + id + "/console").GET(), 200);
    }

    /** The operator's {@code node scrub NAME}. */
    void orderScrub(String node) throws Exception {
        send(request("/api/v1/nodes/" + node + "/scrub").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")), 202);
    }

    /** Every event's message, oldest first. */
    String eventsText() throws Exception {
        return send(request("/api/v1/events?after=0&limit=1000").GET(), 200);
    }

    private <T> T post(String path, Object json, int status, Class<T> type) throws Exception {
        String body = send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Jackson.MAPPER.writeValueAsBytes(json))), status);
        return Jackson.MAPPER.readValue(body, type);
    }

    private String send(HttpRequest.Builder b, int status) throws Exception {
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(status, r.statusCode(), r.body());
        return r.body();
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(controller.url() + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + controller.adminToken());
    }

    /** Polls {@code what} until {@code done} holds, failing after {@code timeout} with the last value seen. */
    static <T> T await(Duration timeout, String description, Supplier<T> what, Predicate<T> done) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        T last = null;
        while (System.nanoTime() < deadline) {
            last = what.get();
            if (done.test(last)) return last;
            Thread.sleep(200);
        }
        fail("timed out after " + timeout.toSeconds() + " s waiting for " + description + "; last seen: " + last);
        return last;
    }

    /** {@link #await} for calls that throw. */
    interface Call<T> {
        T get() throws Exception;
    }

    static <T> Supplier<T> unchecked(Call<T> c) {
        return () -> {
            try {
                return c.get();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
    }

    @Override
    public void close() {
        controller.close();
        http.close();
    }
}
