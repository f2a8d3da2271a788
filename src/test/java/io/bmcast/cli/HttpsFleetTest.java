package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.ControllerTls;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestServer;
import java.io.File;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The controller over HTTPS (its {@code --tls-dir} holding a server certificate made by openssl, RSA and EC
 * keys in the formats certtool and openssl write), used as an operator uses it: the CLI trusting the test CA
 * with {@code --ca-cert}, a real {@code bmcast agent} process (hollow) trusting it the same way, a launch and
 * a destroy through them; plain HTTP refused with a sentence that says https://, a certificate for another
 * name refused naming the host and the CA file, the dashboard's session cookie marked Secure.
 */
@Timeout(180)
class HttpsFleetTest {
    static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(value = TestCerts.KeyFormat.class, names = {"PKCS1_RSA", "SEC1_EC"})
    void theCliAndAnAgentUseAnHttpsControllerThatRefusesPlainHttp(TestCerts.KeyFormat keys) throws Exception {
        Path pki = TestCerts.make(tmp.resolve("pki"), keys);
        Path ca = pki.resolve("ca-cert.pem");
        Path image = tmp.resolve("small.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        Process agent = null;
        try (TestServer images = TestServer.on(tmp).file("small", image, false).tcp().start();
                Controller controller = Controller.start(ControllerConfig.defaults(tmp.resolve("controller")).withTlsDir(pki))) {
            String url = controller.url();
            assertTrue(url.startsWith("https://127.0.0.1:"), url);
            Cli cli = new Cli(url, tmp.resolve("controller/admin.token"), List.of("--ca-cert", ca.toString()));
            cli.ok("image", "add", "small", "--uri", images.uri("small"));

            List<String> command = ClientTestProcesses.bmcastCommand("agent", "--controller", url, "--join-token",
                    tmp.resolve("controller/join.token").toString(), "--name", "tls", "--simulate", "--ca-cert", ca.toString(),
                    "--ready-after", "200ms", "--local-after", "400ms");
            agent = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(tmp.resolve("agent.log").toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            Cli.await(WAIT, "the agent registered over HTTPS", cli::nodes,
                    n -> n.size() == 1 && "available".equals(n.getFirst().state()));
            String id = cli.ok("launch", "--image", "small", "--wait", "running").strip();
            String state = cli.ps().stream().filter(i -> i.id().equals(id)).findFirst().orElseThrow().state();
            assertTrue(List.of("streaming", "devirtualized").contains(state), state);
            cli.ok("destroy", id, "--wait");

            // $BMCAST_CA_CERT does what --ca-cert does, for a CLI in its own process.
            ProcessBuilder ls = new ProcessBuilder(ClientTestProcesses.bmcastCommand("node", "ls", "--controller", url,
                    "--token-file", tmp.resolve("controller/admin.token").toString())).redirectErrorStream(true);
            ls.environment().put(ControllerTls.CA_ENV, ca.toString());
            Process p = ls.start();
            String listing = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), listing);
            assertTrue(listing.contains("tls-0001") || listing.contains("tls"), listing);

            // Plain HTTP to the HTTPS port: one sentence saying to use https://, and no data.
            String http = "http://" + url.substring("https://".length());
            String plain = new Cli(http, tmp.resolve("controller/admin.token")).fails(1, "ps");
            assertTrue(plain.contains("HTTPS only") && plain.contains("https://"), plain);

            // Without the CA: the system's trust store does not vouch for a test CA, and the CLI says where to give one.
            String untrusted = new Cli(url, tmp.resolve("controller/admin.token")).fails(1, "ps");
            assertTrue(untrusted.contains("--ca-cert") && untrusted.contains(url), untrusted);

            // The dashboard's way in: a one-time link, a Secure, HttpOnly cookie.
            String link = cli.ok("token", "login").strip();
            assertTrue(link.startsWith(url + "/login?code="), link);
            try (HttpClient browser = HttpClient.newBuilder().sslContext(ControllerTls.context(ca)).build()) {
                HttpResponse<Void> login = browser.send(HttpRequest.newBuilder(URI.create(link)).build(), HttpResponse.BodyHandlers.discarding());
                assertEquals(302, login.statusCode());
                String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
                assertTrue(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie);
                HttpResponse<Void> again = browser.send(HttpRequest.newBuilder(URI.create(link)).build(), HttpResponse.BodyHandlers.discarding());
                assertEquals(401, again.statusCode(), "a login code works once");
            }
        } finally {
            if (agent != null) {
                agent.destroy();
                if (!agent.waitFor(30, TimeUnit.SECONDS)) agent.destroyForcibly();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = TestCerts.KeyFormat.class, names = {"PKCS8_RSA", "PKCS8_EC"})
    void aCertificateForAnotherNameIsRefusedNamingTheHostAndTheCa(TestCerts.KeyFormat keys) throws Exception {
        Path pki = TestCerts.make(tmp.resolve("pki"), keys, "DNS:elsewhere.test");
        Path ca = pki.resolve("ca-cert.pem");
        try (Controller controller = Controller.start(ControllerConfig.defaults(tmp.resolve("controller")).withTlsDir(pki))) {
            Cli cli = new Cli(controller.url(), tmp.resolve("controller/admin.token"), List.of("--ca-cert", ca.toString()));
            String err = cli.fails(1, "ps");
            assertTrue(err.contains("not for the host '127.0.0.1'") && err.contains(ca.toString()), err);

            // The agent's client says the same, naming the CA it was given.
            var http = io.bmcast.agent.ControllerClient.sharedHttp(ControllerTls.context(ca));
            try (http) {
                var client = new io.bmcast.agent.ControllerClient(URI.create(controller.url()), controller.joinToken(), http, ca);
                var failure = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
                        () -> client.register(new io.bmcast.fleet.AgentProtocol.Hello("n", 1L << 30, 1L << 30, 1, "tcg", true), "").get());
                assertTrue(failure.getCause().getMessage().contains("not for the host '127.0.0.1'")
                        && failure.getCause().getMessage().contains(ca.toString()), failure.getCause().getMessage());
            }
        }
        assertTrue(Files.exists(ca));
    }
}
