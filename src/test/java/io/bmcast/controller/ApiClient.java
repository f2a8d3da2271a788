package io.bmcast.controller;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The REST API as a script calls it: JSON over HTTP with a bearer token (or none). */
final class ApiClient {
    /** One answer: status and body. */
    record Response(int status, String body) {
        <T> T as(Class<T> type) {
            try {
                return Jackson.MAPPER.readValue(body, type);
            } catch (IOException e) {
                throw new AssertionError("not a " + type.getSimpleName() + " (status " + status + "): " + body, e);
            }
        }

        <T> T as(TypeReference<T> type) {
            try {
                return Jackson.MAPPER.readValue(body, type);
            } catch (IOException e) {
                throw new AssertionError("unexpected body (status " + status + "): " + body, e);
            }
        }

        /** The error sentence of an error answer. */
        String error() {
            return Jackson.MAPPER.convertValue(as(java.util.Map.class).get("error"), String.class);
        }
    }

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()).build();

    private final String baseUrl;
    private final String token;
    private final HttpClient http;

    ApiClient(String baseUrl, String token) {
        this(baseUrl, token, HTTP);
    }

    /** With another HTTP client (one that trusts a test CA, for an HTTPS controller). */
    ApiClient(String baseUrl, String token, HttpClient http) {
        this.baseUrl = baseUrl;
        this.token = token;
        this.http = http;
    }

    String token() {
        return token;
    }

    Response get(String path) {
        return send(request(path).GET());
    }

    Response post(String path, Object json) {
        return send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(toJson(json))));
    }

    /** A POST with extra headers (name, value, name, value...). */
    Response post(String path, Object json, String... headers) {
        HttpRequest.Builder b = request(path).header("Content-Type", "application/json");
        for (int i = 0; i + 1 < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return send(b.POST(HttpRequest.BodyPublishers.ofString(toJson(json))));
    }

    Response delete(String path) {
        return send(request(path).DELETE());
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Duration.ofSeconds(60));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return b;
    }

    Response send(HttpRequest.Builder b) {
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.body());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static String toJson(Object o) {
        try {
            return o instanceof String s ? s : Jackson.MAPPER.writeValueAsString(o);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
