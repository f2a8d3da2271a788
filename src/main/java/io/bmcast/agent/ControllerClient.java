package io.bmcast.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * The agent's side of {@link AgentProtocol}: register, heartbeat and boot-file downloads, JSON over HTTP with the
 * join token as bearer and the node's credential in {@link AgentProtocol#CREDENTIAL_HEADER}. Asynchronous, so one client (one connection pool, one small executor) serves a thousand
 * hollow nodes as well as one real agent.
 */
public final class ControllerClient {
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(15);

    /** The controller answered, but not with success: its status and its one-sentence error. */
    public static final class RefusedException extends IOException {
        final int status;
        /** The controller's own sentence (its {@code error}), or null when it sent none. */
        final String error;

        RefusedException(int status, String message, String error) {
            super(message);
            this.status = status;
            this.error = error;
        }
    }

    private final URI base;
    private final String token;
    private final HttpClient http;
    /** The credential of the one node this client speaks for (a real agent), sent when a call names none. */
    private volatile String credential;
    /** The CA the HTTP client trusts (null: the system's), named when a TLS handshake fails. */
    private final Path caCert;

    public ControllerClient(URI base, String token, HttpClient http) {
        this(base, token, http, null);
    }

    /** {@code http} was built with {@link #sharedHttp(SSLContext)} trusting {@code caCert}. */
    public ControllerClient(URI base, String token, HttpClient http, Path caCert) {
        String s = base.toString();
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.token = token.strip();
        this.http = http;
        this.caCert = caCert;
    }

    /**
     * One client for many agents. HTTP/1.1: the controller speaks it, and plain-text HTTP/2 upgrades gain
     * nothing for small JSON bodies. Responses are handled on virtual threads.
     */
    public static HttpClient sharedHttp() {
        return builder().build();
    }

    /** The same, for an {@code https://} controller: {@code tls} says which CAs to trust (the host name is checked too). */
    public static HttpClient sharedHttp(SSLContext tls) {
        return builder().sslContext(tls).build();
    }

    private static HttpClient.Builder builder() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
                .executor(Executors.newVirtualThreadPerTaskExecutor());
    }

    public static String readToken(Path file) throws IOException {
        String t;
        try {
            t = Files.readString(file).strip();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException("no join token file at " + file + " (the controller writes it to its data dir as join.token)");
        }
        if (t.isEmpty()) throw new IOException("the join token file " + file + " is empty");
        return t;
    }

    public URI base() {
        return base;
    }

    /** Makes this client speak for one node: every call without a credential of its own sends this one. */
    public void credential(String nodeCredential) {
        this.credential = nodeCredential;
    }

    /**
     * @param nodeCredential the node's credential, or null for this client's own; empty: none (a first registration)
     */
    public CompletableFuture<AgentProtocol.Welcome> register(AgentProtocol.Hello hello, String nodeCredential) {
        return post("/api/v1/agent/register", hello, AgentProtocol.Welcome.class, nodeCredential);
    }

    /**
     * A heartbeat; with {@code waitMs > 0} a long-poll (see {@link AgentProtocol}): the controller may hold its answer
     * up to {@code waitMs}.
     *
     * @param nodeCredential the node's credential, or null for this client's own; empty: none
     */
    public CompletableFuture<AgentProtocol.Directive> heartbeat(AgentProtocol.Report report, String nodeCredential, long waitMs) {
        String path = waitMs <= 0 ? "/api/v1/agent/heartbeat" : "/api/v1/agent/heartbeat?wait=" + waitMs;
        return post(path, report, AgentProtocol.Directive.class, nodeCredential);
    }

    /**
     * Whether a report is one an idle agent long-polls with: it holds nothing and its disk is clean, so the only news
     * it can hear is a new instance.
     */
    static boolean isIdle(AgentProtocol.Report report) {
        return report.instance() == null && report.diskClean();
    }

    /**
     * Whether to poll again at once: the answer was held (for at least half the wait) and brought nothing to do. One
     * answered much sooner with nothing to do came from a controller that does not hold, and polling again at once
     * would spin; one with an assignment is acted on, and the agent reports as its phase changes.
     */
    static boolean pollAgain(AgentProtocol.Directive d, long waitNs, long tookNs) {
        return d.assignment() == null && tookNs >= waitNs / 2;
    }

    /**
     * Sends the boot profile node {@code node}'s deployment of {@code image} recorded; true when the controller kept
     * it (the first), false when the image had one.
     */
    public CompletableFuture<Boolean> bootProfile(String node, String image, byte[] profile) {
        String path = "/api/v1/agent/images/" + java.net.URLEncoder.encode(image, java.nio.charset.StandardCharsets.UTF_8)
                + "/boot-profile?node=" + java.net.URLEncoder.encode(node, java.nio.charset.StandardCharsets.UTF_8);
        HttpRequest req = request(path, null).timeout(REQUEST_TIMEOUT).header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(profile)).build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).handle((r, err) -> {
            if (err != null) throw new CompletionException(new IOException("controller " + base + " unreachable: " + explain(err), err));
            String text = new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
            if (r.statusCode() / 100 != 2) {
                throw new CompletionException(new RefusedException(r.statusCode(), "controller refused the boot profile: "
                        + errorText(r.statusCode(), text), errorOf(text)));
            }
            try {
                return Jackson.MAPPER.readValue(text, io.bmcast.fleet.Api.BootProfileRecorded.class).recorded();
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        });
    }

    /** Downloads {@code apiPath} (an image's extent map...) to {@code target}, atomically. */
    public void download(String apiPath, Path target) throws IOException, InterruptedException {
        download(apiPath, target, null);
    }

    /**
     * Downloads {@code apiPath} to {@code target}, atomically, unless the controller says the content is still the
     * one tagged {@code etag} (304: nothing is written). Answers the content's ETag (unquoted; null when the
     * controller sent none): the one given when not modified, else the new one.
     */
    public String download(String apiPath, Path target, String etag) throws IOException, InterruptedException {
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        HttpRequest.Builder b = request(apiPath, null).timeout(Duration.ofMinutes(5)).GET();
        if (etag != null) b.header("If-None-Match", "\"" + etag + "\"");
        HttpResponse<Path> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofFile(tmp));
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw new IOException("cannot download " + base + apiPath + ": " + explain(e), e);
        }
        if (r.statusCode() == 304 && etag != null) {
            Files.deleteIfExists(tmp);
            return etag;
        }
        if (r.statusCode() != 200) {
            String body = Files.readString(tmp);
            Files.deleteIfExists(tmp);
            throw new RefusedException(r.statusCode(), "downloading " + apiPath + ": " + errorText(r.statusCode(), body), errorOf(body));
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return r.headers().firstValue("ETag").map(t -> t.replaceFirst("^W/", "").replace("\"", "")).orElse(null);
    }

    private <T> CompletableFuture<T> post(String path, Object body, Class<T> type, String nodeCredential) {
        byte[] json;
        try {
            json = Jackson.MAPPER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            return CompletableFuture.failedFuture(e);
        }
        HttpRequest req = request(path, nodeCredential).timeout(REQUEST_TIMEOUT).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(json)).build();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()).handle((r, err) -> {
            if (err != null) {
                Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                throw new CompletionException(new IOException("controller " + base + " unreachable: " + explain(cause), cause));
            }
            if (r.statusCode() / 100 != 2) {
                String text = new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
                throw new CompletionException(new RefusedException(r.statusCode(), "controller refused " + path + ": "
                        + errorText(r.statusCode(), text), errorOf(text)));
            }
            try {
                return Jackson.MAPPER.readValue(r.body(), type);
            } catch (IOException e) {
                throw new CompletionException(new IOException("controller sent an unreadable answer to " + path + ": " + e.getMessage(), e));
            }
        });
    }

    private HttpRequest.Builder request(String path, String nodeCredential) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token);
        String c = nodeCredential != null ? nodeCredential : credential;
        if (c != null && !c.isEmpty()) b.header(AgentProtocol.CREDENTIAL_HEADER, c);
        return b;
    }

    /** The {@code error} of a JSON error answer, or null. */
    static String errorOf(String body) {
        try {
            return Jackson.MAPPER.readTree(body).path("error").asText(null);
        } catch (IOException notJson) {
            return null; // plain text or HTML
        }
    }

    static String errorText(int status, String body) {
        String msg = errorOf(body);
        if (msg == null) msg = body.length() > 200 ? body.substring(0, 200) : body.strip();
        String what = switch (status) {
            case 401 -> "the join token or the node's credential was refused";
            case 403 -> "this token or credential may not do that";
            case 409 -> "refused";
            case 404 -> "not found";
            default -> "HTTP " + status;
        };
        return msg.isEmpty() ? what : what + " (" + msg + ")";
    }

    /** {@link #describe}, or what a TLS failure means for this controller and the CA it was checked against. */
    private String explain(Throwable e) {
        String tls = io.bmcast.fleet.ControllerTls.explain(base, caCert, e);
        return tls != null ? tls : describe(e);
    }

    static String describe(Throwable e) {
        if (e instanceof ConnectException) return "connection refused";
        if (e instanceof HttpConnectTimeoutException) return "connect timed out";
        if (e instanceof HttpTimeoutException) return "no answer within " + REQUEST_TIMEOUT.toSeconds() + " s";
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }

    /** The exception behind a failed future, unwrapped. */
    static Throwable cause(Throwable t) {
        while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
