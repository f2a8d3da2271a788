package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.agent.ControllerClient;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.testing.TestServer;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that writes terminal escape sequences to its serial console (retitle the window, clear the screen,
 * an 8-bit CSI) reaches the operator's terminal through {@code bmcast console} only as visible text; with
 * {@code --raw}, byte for byte. The console arrives the way a real agent sends it, in a heartbeat.
 */
@Timeout(120)
class ConsoleEscapeTest {
    static final String HOSTILE = "boot ok\r\n\u001b]0;owned\u0007\u001b[2J\u009b31mred\ttab\u0000end\n";

    @TempDir
    Path tmp;

    @Test
    void controlCharactersFromTheGuestAreShownNotObeyed() throws Exception {
        Path image = tmp.resolve("small.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        try (TestServer images = TestServer.on(tmp).file("small", image, false).tcp().start();
                Controller controller = Controller.start(ControllerConfig.defaults(tmp.resolve("controller")));
                HttpClient http = ControllerClient.sharedHttp()) {
            Cli cli = new Cli(controller.url(), tmp.resolve("controller/admin.token"));
            cli.ok("image", "add", "small", "--uri", images.uri("small"));
            ControllerClient agent = new ControllerClient(URI.create(controller.url()), controller.joinToken(), http);
            String credential = agent.register(new AgentProtocol.Hello("n1", 1L << 30, 1L << 30, 1, "tcg", true), "").get().credential();
            agent.heartbeat(new AgentProtocol.Report("n1", 1, null, true), credential, 0).get();
            String id = cli.ok("launch", "--image", "small").strip();
            AgentProtocol.Directive d = agent.heartbeat(new AgentProtocol.Report("n1", 2, null, true), credential, 0).get();
            assertNotNull(d.assignment(), "the launch was assigned to n1");
            assertEquals(id, d.assignment().instanceId());
            agent.heartbeat(new AgentProtocol.Report("n1", 3,
                    new AgentProtocol.InstanceReport(id, "starting", null, 0, 0, 0, 0, HOSTILE), false), credential, 0).get();

            String shown = cli.ok("console", id);
            assertEquals("boot ok\n\\x1b]0;owned\\x07\\x1b[2J\\u009b31mred\ttab\\x00end\n", shown);
            assertFalse(shown.chars().anyMatch(c -> c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f && c <= 0x9f), shown);

            String raw = cli.ok("console", id, "--raw");
            assertEquals(HOSTILE, raw);
            assertTrue(raw.contains("\u001b]0;owned"));
        }
    }
}
