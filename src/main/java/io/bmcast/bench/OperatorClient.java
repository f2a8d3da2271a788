package io.bmcast.bench;

import com.fasterxml.jackson.core.type.TypeReference;
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
import java.util.concurrent.Executors;

/**
 * The fleet benchmark's tenant and operator: the REST calls it makes, as a script would, with the operator's
 * token. One HTTP/1.1 client on virtual threads, so a thousand launch requests can be in flight at once, each
 * on a connection of its own, as a thousand tenants' would be.
 */
final class OperatorClient implements AutoCloseable {
    static final TypeReference<List<Api.Instance>> INSTANCES = new TypeReference<>() {};
    static final TypeReference<List<Api.Event>> EVENTS = new TypeReference<>() {};
    static final TypeReference<List<Api.Node>> NODES = new TypeReference<>() {};

    private final String base;
    private final String token;
    final HttpClient http;
    private final Duration timeout;

    OperatorClient(String base, String token, Duration timeout) {
        this.base = base;
        this.token = token;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    }

    List<Api.Instance> launch(String image, int count) throws IOException, InterruptedException {
        return Jackson.MAPPER.readValue(send(json("/api/v1/instances", new Api.Launch(image, count)), 201), INSTANCES);
    }

    void destroy(String id) throws IOException, InterruptedException {
        send(request("/api/v1/instances/" + id).DELETE(), 202);
    }

    /** The instance's serial console as the controller holds it so far. */
    String console(String id) throws IOException, InterruptedException {
        return new String(send(request("/api/v1/instances/" + id + "/console").GET(), 200), StandardCharsets.UTF_8);
    }

    List<Api.Node> nodes() throws IOException, InterruptedException {
        return Jackson.MAPPER.readValue(send(request("/api/v1/nodes").GET(), 200), NODES);
    }

    List<Api.Instance> instances() throws IOException, InterruptedException {
        return Jackson.MAPPER.readValue(send(request("/api/v1/instances").GET(), 200), INSTANCES);
    }

    /**
     * The controller's count of agent heartbeats answered and their total seconds (from {@code /metrics}), so that
     * a caller can take the mean latency of the heartbeats between two calls.
     */
    double[] heartbeatTotals() throws IOException, InterruptedException {
        String text = new String(send(request("/metrics").GET(), 200), StandardCharsets.UTF_8);
        double count = 0, sum = 0;
        for (String line : text.lines().toList()) {
            if (!line.startsWith("bmcast_api_requests_seconds_") || !line.contains("route=\"/api/v1/agent/heartbeat\"")) continue;
            double v = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            if (line.startsWith("bmcast_api_requests_seconds_count")) count += v;
            else if (line.startsWith("bmcast_api_requests_seconds_sum")) sum += v;
        }
        return new double[] {count, sum};
    }

    /** The id of the newest event, or -1 when there is none. */
    long latestEventId() throws IOException, InterruptedException {
        List<Api.Event> e = Jackson.MAPPER.readValue(send(request("/api/v1/events?limit=1").GET(), 200), EVENTS);
        return e.isEmpty() ? -1 : e.getLast().id();
    }

    void addImage(String name, String uri) throws IOException, InterruptedException {
        send(json("/api/v1/images", new Api.NewImage(name, uri, null)), 201);
    }

    /** Adds an image with a kernel (and initrd, or null) to boot it with, as {@code image add --kernel} does (multipart). */
    void addImage(String name, String uri, Path kernel, Path initrd, String append) throws IOException, InterruptedException {
        String boundary = "bmcast-bench-" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        part(body, boundary, "name", null, name.getBytes(StandardCharsets.UTF_8));
        part(body, boundary, "uri", null, uri.getBytes(StandardCharsets.UTF_8));
        if (append != null) part(body, boundary, "append", null, append.getBytes(StandardCharsets.UTF_8));
        part(body, boundary, "kernel", "vmlinuz", Files.readAllBytes(kernel));
        if (initrd != null) part(body, boundary, "initrd", "initrd.img", Files.readAllBytes(initrd));
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        send(request("/api/v1/images").header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())), 201);
    }

    private static void part(ByteArrayOutputStream out, String boundary, String field, String filename, byte[] content) {
        out.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\""
                + (filename == null ? "" : "; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream") + "\r\n\r\n")
                .getBytes(StandardCharsets.UTF_8));
        out.writeBytes(content);
        out.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout).header("Authorization", "Bearer " + token);
    }

    private HttpRequest.Builder json(String path, Object body) throws IOException {
        return request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Jackson.MAPPER.writeValueAsBytes(body)));
    }

    private byte[] send(HttpRequest.Builder b, int expected) throws IOException, InterruptedException {
        HttpRequest r = b.build();
        HttpResponse<byte[]> res = http.send(r, HttpResponse.BodyHandlers.ofByteArray());
        if (res.statusCode() != expected) {
            throw new IOException(r.method() + " " + r.uri().getPath() + ": HTTP " + res.statusCode() + ": "
                    + new String(res.body(), StandardCharsets.UTF_8).strip());
        }
        return res.body();
    }

    @Override
    public void close() {
        http.shutdownNow();
    }
}
