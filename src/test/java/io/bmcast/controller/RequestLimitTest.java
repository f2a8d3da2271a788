package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.AgentProtocol;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request bodies against a real controller over HTTP, sent by hand on a socket so that the test decides how much
 * of a body exists: a refusal that arrives while most of the declared body was never sent proves the controller
 * answered without reading it (so neither its heap nor its RSS can have grown by the body's size).
 */
class RequestLimitTest {
    private static final long MiB = 1 << 20;

    @Test
    void oversizedJsonFromAProjectIsRefusedBeforeItIsRead(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            ApiClient project = fleet.project("alpha");
            // 200 MB declared, 10 bytes sent: the answer can only come from the declared length.
            Answer a = send(fleet, "POST", "/api/v1/instances", project.token(), "application/json",
                    "Content-Length: " + 200 * MiB, "{\"image\":".getBytes(StandardCharsets.UTF_8), false);
            assertEquals(413, a.status, a.text);
            assertTrue(a.text.contains("larger than the 64.0 KiB this endpoint accepts"), a.text);
            // The controller is fine afterwards.
            assertEquals(200, project.get("/api/v1/instances").status());
        }
    }

    @Test
    void chunkedBodyIsCutOffAtTheLimit(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            ApiClient project = fleet.project("alpha");
            // One 1 MiB chunk and no end: the controller must stop reading at 64 KiB and answer.
            byte[] chunk = new byte[(int) MiB];
            java.util.Arrays.fill(chunk, (byte) ' ');
            Answer a = send(fleet, "POST", "/api/v1/instances", project.token(), "application/json",
                    "Transfer-Encoding: chunked", chunk, true);
            assertEquals(413, a.status, a.text);
        }
    }

    @Test
    void uploadFromAProjectIsRefusedBeforeItsBodyIsRead(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            ApiClient project = fleet.project("alpha");
            String multipart = "multipart/form-data; boundary=b";
            byte[] start = "--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n".getBytes(StandardCharsets.UTF_8);
            // Within the JSON limit but not sent: the role alone refuses it.
            Answer small = send(fleet, "POST", "/api/v1/images", project.token(), multipart, "Content-Length: " + 32 * 1024, start, false);
            assertEquals(403, small.status, small.text);
            // The upload limit is the operator's alone: a project's large upload is too large before anything else.
            Answer large = send(fleet, "POST", "/api/v1/images", project.token(), multipart, "Content-Length: " + 200 * MiB, start, false);
            assertEquals(413, large.status, large.text);
            assertEquals(0, fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).size());
        }
    }

    /** The operator's upload has its own, larger limit; a chunked upload past it is cut off there too. */
    @Test
    void operatorUploadPastItsLimitIsRefused(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir, c -> c.withLimits(Limits.DEFAULTS.withMaxUpload(MiB)))) {
            String multipart = "multipart/form-data; boundary=b";
            byte[] head = ("--b\r\nContent-Disposition: form-data; name=\"kernel\"; filename=\"k\"\r\n"
                    + "Content-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8);
            Answer declared = send(fleet, "POST", "/api/v1/images", fleet.controller.adminToken(), multipart, "Content-Length: " + 2 * MiB,
                    head, false);
            assertEquals(413, declared.status, declared.text);
            byte[] body = java.util.Arrays.copyOf(head, head.length + (int) (2 * MiB));
            Answer chunked = send(fleet, "POST", "/api/v1/images", fleet.controller.adminToken(), multipart, "Transfer-Encoding: chunked",
                    body, true);
            assertEquals(413, chunked.status, chunked.text);
            assertEquals(0, fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).size());
        }
    }

    @Test
    void heartbeatsMayCarryMoreThanOtherJsonButNotWithoutBound(@TempDir Path dir) throws Exception {
        try (TestFleet fleet = TestFleet.start(TestFleet.Db.H2, dir)) {
            ApiClient agent = fleet.as(fleet.controller.joinToken());
            String name = "n".repeat(100 * 1024); // a 100 KiB body: over the JSON limit, within the heartbeat's
            ApiClient.Response hello = agent.post("/api/v1/agent/register", new AgentProtocol.Hello(name, 1L << 30, 1L << 30, 2, "kvm", true));
            assertEquals(413, hello.status(), hello.body());
            String padded = "{\"name\":\"node-1\",\"diskClean\":true,\"pad\":\"" + "p".repeat(100 * 1024) + "\"}";
            Answer big = send(fleet, "POST", "/api/v1/agent/heartbeat", fleet.controller.joinToken(), "application/json",
                    "Content-Length: " + padded.length(), padded.getBytes(StandardCharsets.UTF_8), false);
            assertTrue(big.status != 413, big.text); // whatever the heartbeat's fate, its size was accepted
            Answer huge = send(fleet, "POST", "/api/v1/agent/heartbeat", fleet.controller.joinToken(), "application/json",
                    "Content-Length: " + 10 * MiB, new byte[0], false);
            assertEquals(413, huge.status, huge.text);
        }
    }

    record Answer(int status, String text) {}

    /** One request by hand; {@code chunked}: {@code body} goes as one chunk and the body is left unfinished. */
    static Answer send(TestFleet fleet, String method, String path, String token, String type, String lengthHeader, byte[] body,
            boolean chunked) throws IOException {
        URI u = URI.create(fleet.controller.url());
        try (Socket s = new Socket(u.getHost(), u.getPort())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            String head = method + " " + path + " HTTP/1.1\r\nHost: " + u.getHost() + "\r\nAuthorization: Bearer " + token
                    + "\r\nContent-Type: " + type + "\r\n" + lengthHeader + "\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            try {
                if (chunked) out.write((Integer.toHexString(body.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
            } catch (IOException refusedMidway) {
                // the controller answered and closed while we were still sending: read its answer
            }
            return read(s.getInputStream());
        }
    }

    private static Answer read(InputStream in) throws IOException {
        StringBuilder text = new StringBuilder();
        byte[] buf = new byte[4096];
        int n;
        try {
            while ((n = in.read(buf)) > 0) {
                text.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                int headEnd = text.indexOf("\r\n\r\n");
                if (headEnd > 0 && text.indexOf("}", headEnd) > 0) break;
            }
        } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError("no answer within 20 s (the controller waits for the body); so far: " + text);
        }
        String[] status = text.toString().split(" ", 3);
        return new Answer(Integer.parseInt(status[1]), text.toString());
    }
}
