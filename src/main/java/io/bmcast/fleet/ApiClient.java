package io.bmcast.fleet;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.util.Jackson;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * A client of the REST API (the CLI's, the demo's, scripts'): one request per call, JSON in and out, and every failure turned into a
 * sentence (the controller's own {@code {"error": ...}} when it gave one).
 */
public final class ApiClient {
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    /**
     * A multipart post registers an image: the controller reads its boot files and, for an image in an object store,
     * fetches and verifies every chunk before it answers (about 10 s per 4 GiB of data here), so it gets longer.
     */
    private static final Duration UPLOAD_TIMEOUT = Duration.ofMinutes(15);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private final URI base;
    private final String token;
    private final Path caCert;
    private final HttpClient http;

    /** A client of a plain-HTTP controller, or of an HTTPS one whose certificate the system's trust store vouches for. */
    public ApiClient(URI base, String token) throws IOException {
        this(base, token, null);
    }

    /** {@code caCert}: the CA (PEM) an {@code https://} controller's certificate must chain to; null for the system's. */
    public ApiClient(URI base, String token, Path caCert) throws IOException {
        this.base = base;
        this.token = token;
        this.caCert = caCert;
        this.http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).sslContext(ControllerTls.context(caCert)).build();
    }

    public URI base() {
        return base;
    }

    public <T> T get(String path, TypeReference<T> type) throws IOException {
        return Jackson.MAPPER.readValue(send(request(path).GET(), path), type);
    }

    public JsonNode getTree(String path) throws IOException {
        return Jackson.MAPPER.readTree(send(request(path).GET(), path));
    }

    public String getText(String path) throws IOException {
        return new String(send(request(path).GET(), path), StandardCharsets.UTF_8);
    }

    public <T> T post(String path, Object body, TypeReference<T> type) throws IOException {
        byte[] json = Jackson.MAPPER.writeValueAsBytes(body);
        HttpRequest.Builder r = request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(json));
        byte[] answer = send(r, path);
        return answer.length == 0 || type == null ? null : Jackson.MAPPER.readValue(answer, type);
    }

    public <T> T delete(String path, TypeReference<T> type) throws IOException {
        byte[] body = send(request(path).DELETE(), path);
        return body.length == 0 || type == null ? null : Jackson.MAPPER.readValue(body, type);
    }

    /** {@code multipart/form-data}: text fields, then files (field name to path). */
    public <T> T postMultipart(String path, Map<String, String> fields, Map<String, Path> files, TypeReference<T> type)
            throws IOException {
        String boundary = "bmcast-" + UUID.randomUUID();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (var f : fields.entrySet()) {
            if (f.getValue() == null) continue;
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.getKey() + "\"\r\n\r\n"
                    + f.getValue() + "\r\n").getBytes(StandardCharsets.UTF_8));
        }
        for (var f : files.entrySet()) {
            if (f.getValue() == null) continue;
            body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f.getKey()
                    + "\"; filename=\"" + f.getValue().getFileName() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .getBytes(StandardCharsets.UTF_8));
            body.writeBytes(Files.readAllBytes(f.getValue()));
            body.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpRequest.Builder r = request(path).timeout(UPLOAD_TIMEOUT).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()));
        return Jackson.MAPPER.readValue(send(r, path), type);
    }

    /**
     * Follows the server-sent event stream at {@code path} from the event after {@code lastEventId} (none: only
     * what happens from now on, when negative), handing each event's data (a JSON object) to {@code onEvent},
     * until the stream ends or the thread is interrupted.
     */
    public void stream(String path, long lastEventId, Consumer<JsonNode> onEvent) throws IOException {
        HttpRequest.Builder req = HttpRequest.newBuilder(base.resolve(path)).header("Authorization", "Bearer " + token)
                .header("Accept", "text/event-stream");
        // The SSE resume point: the controller sends the backlog after it, then the live events, missing none.
        if (lastEventId >= 0) req.header("Last-Event-ID", Long.toString(lastEventId));
        HttpRequest r = req.GET().build();
        HttpResponse<InputStream> resp;
        try {
            resp = http.send(r, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (IOException e) {
            throw unreachable(e);
        }
        if (resp.statusCode() / 100 != 2) {
            byte[] b;
            try (InputStream in = resp.body()) {
                b = in.readAllBytes();
            }
            throw failure(resp.statusCode(), b, path);
        }
        try (BufferedReader in = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
            StringBuilder data = new StringBuilder();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("data:")) {
                    data.append(line.substring(5).strip());
                } else if (line.isEmpty() && !data.isEmpty()) {
                    onEvent.accept(Jackson.MAPPER.readTree(data.toString()));
                    data.setLength(0);
                }
            }
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST_TIMEOUT)
                .header("Authorization", "Bearer " + token).header("Accept", "application/json");
    }

    private byte[] send(HttpRequest.Builder r, String path) throws IOException {
        HttpResponse<byte[]> resp;
        HttpRequest built = r.build();
        try {
            resp = http.send(built, HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (HttpConnectTimeoutException e) {
            throw unreachable(e); // a subclass of the one below: no connection at all is not a slow answer
        } catch (HttpTimeoutException e) {
            throw new IOException("the controller at " + base + " did not answer within " + built.timeout().orElse(REQUEST_TIMEOUT).toSeconds() + " s");
        } catch (IOException e) {
            throw unreachable(e);
        }
        if (resp.statusCode() / 100 != 2) throw failure(resp.statusCode(), resp.body(), path);
        return resp.body();
    }

    private IOException unreachable(IOException e) {
        String tls = ControllerTls.explain(base, caCert, e);
        if (tls != null) return new IOException(tls);
        String why = e instanceof HttpConnectTimeoutException ? "no answer to connect within " + CONNECT_TIMEOUT.toSeconds() + " s"
                : e instanceof ConnectException ? "connection refused" : String.valueOf(e.getMessage());
        return new IOException("cannot reach the controller at " + base + " (" + why
                + "); is `bmcast controller` running there? (--controller URL or BMCAST_CONTROLLER)");
    }

    private static IOException failure(int status, byte[] body, String path) {
        String message = null;
        try {
            message = Jackson.MAPPER.readValue(body, Api.Error.class).error();
        } catch (IOException | RuntimeException notJson) {
            // not our error body: fall back to the status
        }
        if (message == null || message.isBlank()) {
            message = switch (status) {
                case 401 -> "the controller refused the token (401): check BMCAST_TOKEN or --token-file";
                case 403 -> "this token may not do that (403)";
                case 404 -> "not found (404): " + path;
                default -> "the controller answered " + status + " to " + path;
            };
        }
        return new ControllerException(status, message);
    }

    /** A request the controller refused or failed; {@code status} is its HTTP status. */
    public static final class ControllerException extends IOException {
        private final int status;

        ControllerException(int status, String message) {
            super(message);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    public static final TypeReference<List<Api.Instance>> INSTANCES = new TypeReference<>() {};
    public static final TypeReference<Api.Instance> INSTANCE = new TypeReference<>() {};
    public static final TypeReference<List<Api.Node>> NODES = new TypeReference<>() {};
    public static final TypeReference<List<Api.Image>> IMAGES = new TypeReference<>() {};
    public static final TypeReference<Api.Image> IMAGE = new TypeReference<>() {};
    public static final TypeReference<List<Api.Event>> EVENTS = new TypeReference<>() {};
    public static final TypeReference<Api.Token> TOKEN = new TypeReference<>() {};
}
