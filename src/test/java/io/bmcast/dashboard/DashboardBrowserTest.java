package io.bmcast.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.bmcast.agent.ControllerClient;
import io.bmcast.agent.HollowFleet;
import io.bmcast.agent.HollowTimeline;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.ByteSources;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Pusher;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TransferProgress;
import io.bmcast.testing.TestServer;
import io.bmcast.util.Jackson;
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
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedCondition;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard as an operator uses it, in a real headless Chromium: a real in-process controller, a real NBD
 * image server, and hollow nodes speaking the real agent protocol. The page is opened from the login link;
 * an instance is launched from its form, followed to {@code devirtualized}, destroyed from its row, and its
 * node seen available again. Screenshots go to {@code target/dashboard.png} (the running instance) and
 * {@code target/dashboard-destroyed.png} (after the scrub).
 *
 * <p>Every wait is on the page's DOM and bounded; nothing here asserts a timing.
 */
class DashboardBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final long MiB = 1 << 20;
    private static final int NODES = 12;
    /** Long enough to see a streaming instance's progress bar move, short enough for a quick test. */
    private static final HollowTimeline TIMELINE = new HollowTimeline(Duration.ofMillis(1500).toNanos(),
            Duration.ofSeconds(6).toNanos());
    private static final Duration STEP = Duration.ofSeconds(45);

    @TempDir
    Path dir;

    @Test
    void launchFollowAndDestroyAnInstanceFromThePage() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Chromium is not installed (Debian: chromium and chromium-driver)");
        Path image = sparseImage(dir.resolve("busybox.img"), 64 * MiB);
        try (TestServer images = TestServer.on(dir).file("busybox", image, false).tcp().start();
                Controller controller = Controller.start(ControllerConfig.defaults(dir.resolve("data")));
                HttpClient http = ControllerClient.sharedHttp();
                HollowFleet fleet = new HollowFleet(new ControllerClient(URI.create(controller.url()), controller.joinToken(), http),
                        new HollowFleet.Options("rack1", NODES, 32L << 30, 8L << 30, 4, TIMELINE)).start()) {
            addImage(http, controller, "busybox", images.uri("busybox"));
            WebDriver browser = chromium();
            try {
                // Not logged in yet: the page says so in words, not with a blank screen.
                browser.get(controller.url() + "/");
                waitFor(browser, "the not-logged-in message", b -> banner(b).contains("login link"));

                browser.get(controller.loginUrl());
                waitFor(browser, "the " + NODES + " nodes available in the grid",
                        b -> b.findElements(By.cssSelector("#nodes .tile[data-state='available']")).size() == NODES);
                assertEquals("", banner(browser), "an error is shown after login");

                // Launch one from the form.
                waitFor(browser, "the image picker to list busybox",
                        b -> !b.findElements(By.cssSelector("#launch-image option[value='busybox']")).isEmpty());
                new Select(browser.findElement(By.id("launch-image"))).selectByValue("busybox");
                WebElement count = browser.findElement(By.id("launch-count"));
                count.clear();
                count.sendKeys("1");
                browser.findElement(By.id("launch-submit")).click();
                WebElement row = waitFor(browser, "the launched instance's row",
                        b -> b.findElements(By.cssSelector("#instances .row[data-instance]")).stream().findFirst().orElse(null));
                String id = row.getDomAttribute("data-instance");

                // Followed live to devirtualized, the node's tile busy with it.
                waitFor(browser, id + " devirtualized", b -> "devirtualized".equals(rowState(b, id)));
                String node = row.findElement(By.cssSelector(".node")).getText();
                WebElement tile = browser.findElement(By.cssSelector("#nodes .tile[data-node='" + node + "']"));
                assertEquals("busy", tile.getDomAttribute("data-state"));
                assertEquals(id, tile.getDomAttribute("data-instance"));
                assertEquals("100%", row.findElement(By.cssSelector(".pct")).getText());
                waitFor(browser, "the header to count one devirtualized instance", b -> "1".equals(
                        b.findElement(By.cssSelector("#instance-counts .chip[data-state='devirtualized'] b")).getText()));
                waitFor(browser, "events about " + id, b -> b.findElements(By.cssSelector("#events li")).stream()
                        .anyMatch(li -> li.getText().contains(id.substring(0, Math.min(8, id.length())))));
                screenshot(browser, "dashboard.png");

                // Destroy from its row (two clicks: arm, confirm); the node comes back available once scrubbed.
                WebElement destroy = row.findElement(By.cssSelector("button.destroy"));
                destroy.click();
                assertEquals("Confirm", destroy.getText());
                destroy.click();
                waitFor(browser, id + " gone from the table", b -> {
                    String s = rowState(b, id);
                    return s == null || s.equals("deleted");
                });
                waitFor(browser, node + " available again", b -> {
                    WebElement t = b.findElement(By.cssSelector("#nodes .tile[data-node='" + node + "']"));
                    return "available".equals(t.getDomAttribute("data-state")) && "".equals(t.getDomAttribute("data-instance"));
                });
                assertEquals("", banner(browser), "an error is shown");
                screenshot(browser, "dashboard-destroyed.png");
                assertNoScriptErrors(browser);
            } finally {
                browser.quit();
            }
        }
    }

    /**
     * The same page from a controller that speaks HTTPS (a test CA's certificate; Chromium told to accept that
     * one server key, nothing wider): login by the one-time link, the grid filled, a launch from the form (a
     * same-origin JSON POST that passes the CSRF checks), no error.
     */
    @Test
    void theDashboardWorksOverHttps() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Chromium is not installed (Debian: chromium and chromium-driver)");
        Path pki = io.bmcast.testing.TestCerts.make(dir.resolve("pki"));
        Path image = sparseImage(dir.resolve("busybox.img"), 64 * MiB);
        try (TestServer images = TestServer.on(dir).file("busybox", image, false).tcp().start();
                Controller controller = Controller.start(ControllerConfig.defaults(dir.resolve("data")).withTlsDir(pki));
                HttpClient http = ControllerClient.sharedHttp(io.bmcast.fleet.ControllerTls.context(pki.resolve("ca-cert.pem")));
                HollowFleet fleet = new HollowFleet(new ControllerClient(URI.create(controller.url()), controller.joinToken(), http),
                        new HollowFleet.Options("tls", 2, 32L << 30, 8L << 30, 4, TIMELINE)).start()) {
            assertTrue(controller.url().startsWith("https://"), controller.url());
            addImage(http, controller, "busybox", images.uri("busybox"));
            WebDriver browser = chromium("--ignore-certificate-errors-spki-list=" + spkiHash(pki.resolve("server-cert.pem")));
            try {
                browser.get(controller.loginUrl());
                waitFor(browser, "the 2 nodes available in the grid",
                        b -> b.findElements(By.cssSelector("#nodes .tile[data-state='available']")).size() == 2);
                waitFor(browser, "the image picker to list busybox",
                        b -> !b.findElements(By.cssSelector("#launch-image option[value='busybox']")).isEmpty());
                new Select(browser.findElement(By.id("launch-image"))).selectByValue("busybox");
                browser.findElement(By.id("launch-submit")).click();
                waitFor(browser, "the launched instance's row",
                        b -> b.findElements(By.cssSelector("#instances .row[data-instance]")).stream().findFirst().orElse(null));
                assertEquals("", banner(browser), "an error is shown");
                assertNoScriptErrors(browser);
            } finally {
                browser.quit();
            }
        }
    }

    /**
     * The "peers / store" column, for an instance of an image in an object store: a real S3 server (S3Proxy) holds the
     * image, the controller adds it from there (verifying every chunk), and the node that runs it speaks the real agent
     * protocol and reports where its mediator's bytes came from, as a real agent does (hollow nodes report no byte
     * sources). The row shows the bytes from peers and from the store; its tooltip the cache and the chunks verified
     * and rejected; the header the fleet-wide share. Screenshot: {@code target/dashboard-store.png}.
     */
    @Test
    void anInstanceOfAStoreImageShowsItsBytesFromPeersAndTheStoreAndItsChunkCounts() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Chromium is not installed (Debian: chromium and chromium-driver)");
        LocalS3.useLocalCredentials();
        Path image = sparseImage(dir.resolve("busybox.img"), 64 * MiB);
        try (LocalS3 s3 = LocalS3.start(dir.resolve("s3"));
                Controller controller = Controller.start(ControllerConfig.defaults(dir.resolve("data")));
                HttpClient http = ControllerClient.sharedHttp()) {
            StoreLocation at = s3.location("images", "fleet/busybox");
            try (StoreClient client = StoreClient.open(at)) {
                client.ensureBucket();
                new Pusher(client, at).push(new Pusher.Options(image, (int) MiB, null, null, null, null, 2),
                        new TransferProgress("push", "uploaded"));
            }
            addImage(http, controller, "busybox", at.toString());
            ControllerClient agent = new ControllerClient(URI.create(controller.url()), controller.joinToken(), http);
            AgentProtocol.Welcome welcome = agent.register(new AgentProtocol.Hello("store-node", 32L << 30, 8L << 30, 4, "kvm", true), "")
                    .get(30, TimeUnit.SECONDS);
            agent.credential(welcome.credential());
            long[] seq = {0};
            agent.heartbeat(new AgentProtocol.Report("store-node", ++seq[0], null, true), null, 0).get(30, TimeUnit.SECONDS);
            WebDriver browser = chromium();
            try {
                browser.get(controller.loginUrl());
                waitFor(browser, "the node available in the grid",
                        b -> b.findElements(By.cssSelector("#nodes .tile[data-state='available']")).size() == 1);
                waitFor(browser, "the image picker to list busybox",
                        b -> !b.findElements(By.cssSelector("#launch-image option[value='busybox']")).isEmpty());
                new Select(browser.findElement(By.id("launch-image"))).selectByValue("busybox");
                browser.findElement(By.id("launch-submit")).click();
                WebElement row = waitFor(browser, "the launched instance's row",
                        b -> b.findElements(By.cssSelector("#instances .row[data-instance]")).stream().findFirst().orElse(null));
                String id = row.getDomAttribute("data-instance");
                WebElement sources = row.findElement(By.cssSelector(".sources"));

                // The node takes it and streams: 12 MiB from peers, 4 MiB from the store, 16 chunks verified, 2 rejected.
                AgentProtocol.Directive d = agent.heartbeat(new AgentProtocol.Report("store-node", ++seq[0], null, true), null, 0)
                        .get(30, TimeUnit.SECONDS);
                assertEquals(id, d.assignment().instanceId());
                ByteSources streamed = new ByteSources(0, 12 * MiB, 4 * MiB, 16, 2);
                for (String phase : List.of("starting", "streaming")) {
                    agent.heartbeat(new AgentProtocol.Report("store-node", ++seq[0], new AgentProtocol.InstanceReport(id, phase, null,
                            2 * MiB, 14 * MiB, 0.25, 0, "", phase.equals("starting") ? null : streamed), false), null, 0)
                            .get(30, TimeUnit.SECONDS);
                }
                waitFor(browser, id + " streaming", b -> "streaming".equals(rowState(b, id)));
                waitFor(browser, "the peers / store column to fill", b -> "12.0 MiB / 4.0 MiB".equals(sources.getText()));
                assertEquals("12.0 MiB from peers, 4.0 MiB from the store, 0 B from this node's cache; 16 chunks verified, 2 rejected",
                        sources.getDomAttribute("title"));
                waitFor(browser, "the fleet-wide share in the table's header", b -> b.findElement(By.id("instance-total")).getText()
                        .equals("1 live; 12.0 MiB from peers, 4.0 MiB from the store, 2 chunks rejected"));
                screenshot(browser, "dashboard-store.png");
                assertEquals("", banner(browser), "an error is shown");
                assertNoScriptErrors(browser);
            } finally {
                browser.quit();
            }
        }
    }

    /** Chromium's pin for one server key: base64 of the SHA-256 of its SubjectPublicKeyInfo. */
    private static String spkiHash(Path certPem) throws Exception {
        try (var in = Files.newInputStream(certPem)) {
            var cert = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
            return java.util.Base64.getEncoder().encodeToString(
                    java.security.MessageDigest.getInstance("SHA-256").digest(cert.getPublicKey().getEncoded()));
        }
    }

    /** The error banner's text, or "" while it is hidden. */
    private static String banner(WebDriver b) {
        WebElement banner = b.findElement(By.id("banner"));
        return banner.isDisplayed() ? banner.getText() : "";
    }

    /** The state the row of {@code id} shows, or null once the row is gone. */
    private static String rowState(WebDriver b, String id) {
        List<WebElement> pills = b.findElements(By.cssSelector("#instances .row[data-instance='" + id + "'] .pill"));
        return pills.isEmpty() ? null : pills.getFirst().getDomAttribute("data-state");
    }

    private static <T> T waitFor(WebDriver browser, String what, ExpectedCondition<T> condition) {
        return new WebDriverWait(browser, STEP, Duration.ofMillis(100)).withMessage(() -> "waiting for " + what)
                .until(condition);
    }

    private static void screenshot(WebDriver browser, String name) throws Exception {
        Path target = Path.of(System.getProperty("user.dir"), "target");
        Files.createDirectories(target);
        Files.write(target.resolve(name), ((ChromeDriver) browser).getScreenshotAs(OutputType.BYTES));
    }

    /** The page's own errors (failed requests, exceptions) end up in the console as SEVERE. */
    private static void assertNoScriptErrors(WebDriver browser) {
        List<String> severe = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue()).map(LogEntry::getMessage)
                // the first visit, before login, is refused on purpose
                .filter(m -> !m.contains("401")).toList();
        assertTrue(severe.isEmpty(), () -> "the page logged errors: " + severe);
    }

    /**
     * Chromium headless with a fresh profile, its binary and its driver named so that Selenium never looks
     * for one on the network.
     */
    private WebDriver chromium(String... more) throws Exception {
        Logger.getLogger("org.openqa.selenium").setLevel(Level.SEVERE);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1440,1000", "--lang=en-US",
                "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium-profile")));
        options.addArguments(more);
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        return new ChromeDriver(service, options);
    }

    private static void addImage(HttpClient http, Controller controller, String name, String uri) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(controller.url() + "/api/v1/images"))
                .header("Authorization", "Bearer " + controller.adminToken()).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Jackson.MAPPER.writeValueAsString(new Api.NewImage(name, uri, null))))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, r.statusCode(), () -> "adding image " + name + ": " + r.body());
    }

    /** A sparse image with a few MiB of data, as a small boot disk has. */
    private static Path sparseImage(Path file, long size) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            byte[] mib = new byte[(int) MiB];
            java.util.Arrays.fill(mib, (byte) 0x42);
            for (long at = 0; at < 4 * MiB; at += MiB) {
                f.seek(at);
                f.write(mib);
            }
        }
        return file;
    }
}
