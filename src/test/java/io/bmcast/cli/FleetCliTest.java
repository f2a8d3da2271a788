package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.agent.HollowFleet;
import io.bmcast.agent.HollowTimeline;
import io.bmcast.cli.MainTest.Run;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.Api;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.TestServer;
import io.bmcast.util.Jackson;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fleet commands against a real controller with three hollow nodes (the real protocol, scripted timings, no
 * QEMU): what a user sees when the token is missing, wrong or a project's, when a launch cannot be done, when
 * waiting, watching and reading events and consoles, when the controller is not there, and when an image in use
 * is removed. Each test leaves no instance behind.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class FleetCliTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final int NODES = 3;
    /** Each hollow node's disk: the {@code huge} image does not fit on any of them. */
    static final long NODE_DISK = 1L << 30;

    private Path tmp;
    private TestServer images;
    private Controller controller;
    private HttpClient agentHttp;
    private HollowFleet hollow;
    private Cli operator;

    @BeforeAll
    void fleet(@TempDir Path dir) throws Exception {
        tmp = dir;
        images = TestServer.on(tmp).file("small", sparse(tmp.resolve("small.img"), 64L << 20), false)
                .file("huge", sparse(tmp.resolve("huge.img"), 2 * NODE_DISK), false).tcp().start();
        controller = Controller.start(ControllerConfig.defaults(tmp.resolve("controller")));
        agentHttp = io.bmcast.agent.ControllerClient.sharedHttp();
        hollow = new HollowFleet(new io.bmcast.agent.ControllerClient(URI.create(controller.url()), controller.joinToken(), agentHttp),
                new HollowFleet.Options("hollow", NODES, NODE_DISK, 512L << 20, 2, new HollowTimeline(1_000_000_000L, 3_000_000_000L)))
                .start();
        operator = new Cli(controller.url(), tmp.resolve("controller/admin.token"));
        operator.ok("image", "add", "small", "--uri", images.uri("small"));
        operator.ok("image", "add", "huge", "--uri", images.uri("huge"));
        Cli.await(WAIT, "the hollow nodes available", operator::nodes,
                n -> n.size() == NODES && n.stream().allMatch(x -> "available".equals(x.state())));
    }

    @AfterEach
    void destroyEverything() throws InterruptedException {
        operator.ok("destroy", "--all", "--wait", "--timeout", "60s");
        Cli.await(WAIT, "every node available again", operator::nodes, n -> n.stream().allMatch(x -> "available".equals(x.state())));
    }

    @AfterAll
    void stop() {
        if (hollow != null) hollow.close();
        if (controller != null) controller.close();
        if (agentHttp != null) agentHttp.close();
        if (images != null) images.close();
    }

    @Test
    void withoutATokenTheCliSaysWhereOneComesFrom() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("BMCAST_TOKEN") == null, "BMCAST_TOKEN is set in this environment");
        Run r = MainTest.bmcast("ps", "--controller", controller.url());
        assertEquals(2, r.rc(), r.err());
        MainTest.assertOneSentence(r.err());
        assertTrue(r.err().contains("BMCAST_TOKEN") && r.err().contains("--token-file") && r.err().contains("admin.token"), r.err());

        String empty = operator.withToken("", tmp.resolve("empty.token")).fails(2, "ps");
        assertTrue(empty.contains("empty"), empty);
    }

    @Test
    void aWrongTokenIsRefusedInOneLine() {
        Cli stranger = operator.withToken("not-a-token-of-this-controller", tmp.resolve("wrong.token"));
        for (String[] command : new String[][] {{"ps"}, {"node", "ls"}, {"launch", "--image", "small"}, {"events"}}) {
            String err = stranger.fails(1, command);
            assertTrue(err.contains("token is not valid"), err);
        }
        assertEquals(List.of(), operator.ps(), "a refused launch launched something");
        // The agents' join token is no user's token either.
        String join = operator.withToken(controller.joinToken(), tmp.resolve("join.token")).fails(1, "ps");
        assertTrue(join.contains("join token is for agents"), join);
    }

    @Test
    void aProjectSeesAndDestroysOnlyItsOwnInstances() throws Exception {
        Cli blue = operator.withToken(operator.ok("token", "create", "--project", "blue").strip(), tmp.resolve("blue.token"));
        Cli red = operator.withToken(operator.ok("token", "create", "--project", "red").strip(), tmp.resolve("red.token"));
        String blueId = blue.ok("launch", "--image", "small").strip();
        String redId = red.ok("launch", "--image", "small").strip();

        List<Api.Instance> blues = blue.ps();
        assertEquals(List.of(blueId), blues.stream().map(Api.Instance::id).toList());
        assertEquals("blue", blues.getFirst().project());
        assertEquals(Set.of(blueId, redId), operator.ps().stream().map(Api.Instance::id).collect(Collectors.toSet()),
                "the operator sees every project's instances");

        for (String[] command : new String[][] {{"console", redId}, {"destroy", redId}}) {
            String err = blue.fails(1, command);
            assertTrue(err.contains("no instance " + redId), err);
        }
        assertFalse(blue.ok("events", "--json", "--limit", "1000").contains(redId), "blue reads red's events");
        assertTrue(Set.of("scheduled", "starting", "streaming", "devirtualized").contains(operator.ps().stream()
                .filter(i -> i.id().equals(redId)).findFirst().orElseThrow().state()), "red's instance was touched by blue");

        for (String[] command : new String[][] {{"node", "ls"}, {"image", "rm", "small"}, {"token", "create", "--project", "red"},
                {"image", "add", "x", "--uri", images.uri("small")}}) {
            String err = blue.fails(1, command);
            assertTrue(err.contains("only the operator"), String.join(" ", command) + ": " + err);
        }
        assertTrue(blue.ok("image", "ls").contains("small"), "a project lists the images it may launch");

        assertEquals(blueId + " destroying", blue.ok("destroy", "--all").strip(), "blue's --all is blue's instances only");
        red.ok("destroy", redId, "--wait");
    }

    @Test
    void aLaunchThatCannotBeDoneSaysWhyAndLaunchesNothing() {
        String unknown = operator.fails(1, "launch", "--image", "nope", "--count", "2");
        assertTrue(unknown.contains("no image") && unknown.contains("nope"), unknown);
        String huge = operator.fails(1, "launch", "--image", "huge");
        assertTrue(huge.contains("larger than the disk of every node"), huge);
        assertEquals(List.of(), operator.ps("--all").stream().filter(i -> !"deleted".equals(i.state())).toList());
        String count = operator.fails(2, "launch", "--image", "small", "--count", "0");
        assertTrue(count.contains("--count"), count);
        String wait = operator.fails(2, "launch", "--image", "small", "--wait", "forever");
        assertTrue(wait.contains("--wait must be running or devirtualized"), wait);
        assertEquals(List.of(), operator.ps(), "a refused launch launched something");
    }

    @Test
    void launchWaitRunningReturnsOnceEveryInstanceStreamsOrMore() {
        Run r = operator.run("launch", "--image", "small", "--count", "3", "--wait", "running");
        assertEquals(0, r.rc(), r.err());
        List<String> ids = r.out().lines().toList();
        assertEquals(3, ids.size(), r.out());
        assertTrue(r.err().contains("waiting for running"), "no progress on stderr: " + r.err());
        List<Api.Instance> now = operator.ps();
        assertEquals(Set.copyOf(ids), now.stream().map(Api.Instance::id).collect(Collectors.toSet()));
        assertTrue(now.stream().allMatch(i -> Set.of("streaming", "devirtualized").contains(i.state())), now.toString());

        Run local = operator.run("launch", "--image", "small", "--wait", "devirtualized", "--timeout", "3s");
        assertEquals(1, local.rc(), "a fourth instance has no node to run on: " + local.out() + local.err());
        assertEquals(1, local.out().lines().count(), "its id is printed before the wait: " + local.out());
        assertTrue(local.err().contains("gave up waiting for devirtualized") && local.err().contains("pending"), local.err());
    }

    @Test
    void anOperatorPutsANodeInMaintenanceScrubsItRemovesItAndForcesAnInstanceOut() throws Exception {
        for (String sub : List.of("rm", "maintenance", "scrub")) {
            Run help = MainTest.bmcast("node", sub, "--help");
            assertEquals(0, help.rc(), help.err());
            assertTrue(help.out().contains("Usage:") && help.out().contains("NAME"), help.out());
        }
        for (String[] command : new String[][] {{"node", "rm", "nope"}, {"node", "scrub", "nope"}, {"node", "maintenance", "nope", "on"}}) {
            String err = operator.fails(1, command);
            assertTrue(err.contains("no node nope"), err);
        }
        assertTrue(operator.fails(2, "node", "maintenance", "hollow-0", "maybe").contains("'on' or 'off'"));
        String node = operator.nodes().getFirst().name();

        // maintenance: no new instance lands there, and `node ls` says so
        assertEquals(node + " maintenance on", operator.ok("node", "maintenance", node, "on").strip());
        assertTrue(operator.nodes().stream().anyMatch(n -> n.name().equals(node) && n.maintenance()));
        assertTrue(operator.ok("node", "ls").lines().anyMatch(l -> l.startsWith(node + " ") && l.contains("maintenance")));
        List<String> ids = operator.ok("launch", "--image", "small", "--count", String.valueOf(NODES - 1), "--wait", "running").lines().toList();
        assertTrue(operator.ps().stream().noneMatch(i -> node.equals(i.node())), "an instance went to the node in maintenance");
        operator.ok("destroy", "--all", "--wait");
        operator.ok("node", "maintenance", node, "off");
        assertFalse(operator.nodes().stream().anyMatch(n -> n.name().equals(node) && n.maintenance()));

        // an ordered scrub: the (hollow) agent scrubs again and the node comes back only after it says so
        String ordered = operator.ok("node", "scrub", node).strip();
        assertTrue(ordered.startsWith(node + " must scrub: its agent scrubs and verifies the disk"), ordered);
        Cli.await(WAIT, node + " available again after its ordered scrub", operator::nodes,
                n -> n.stream().anyMatch(x -> x.name().equals(node) && "available".equals(x.state()) && !x.mustScrub()));
        assertTrue(operator.ok("events", "--json", "--limit", "1000").contains("scrubbing as ordered"));

        // destroy --force: the operator's only; the instance goes at once, its node scrubs before reuse
        Cli blue = operator.withToken(operator.ok("token", "create", "--project", "green").strip(), tmp.resolve("green.token"));
        String id = blue.ok("launch", "--image", "small", "--wait", "running").strip();
        assertTrue(blue.fails(1, "destroy", id, "--force").contains("operator"));
        assertEquals(id + " deleted", operator.ok("destroy", id, "--force").strip());
        Cli.await(WAIT, "every node available after the forced destroy", operator::nodes,
                n -> n.stream().allMatch(x -> "available".equals(x.state()) && !x.mustScrub()));

        // rm: the name is free; a live agent with that name registers again as a new node
        assertEquals(node + " removed", operator.ok("node", "rm", node).strip());
        Cli.await(WAIT, node + " registered again", operator::nodes, n -> n.stream().anyMatch(x -> x.name().equals(node)));
        assertTrue(ids.size() == NODES - 1);
    }

    @Test
    void destroyOnAnOfflineNodeSaysWhatHappensNextAndForceGetsOut() throws Exception {
        List<String> others = operator.nodes().stream().map(Api.Node::name).toList();
        for (String n : others) operator.ok("node", "maintenance", n, "on");
        String lone = null;
        try {
            HollowFleet fleet = new HollowFleet(new io.bmcast.agent.ControllerClient(URI.create(controller.url()), controller.joinToken(), agentHttp),
                    new HollowFleet.Options("lone", 1, NODE_DISK, 512L << 20, 2, new HollowTimeline(1_000_000_000L, 3_000_000_000L))).start();
            lone = fleet.names().getFirst();
            String name = lone;
            Cli.await(WAIT, name + " available", operator::nodes, n -> n.stream().anyMatch(x -> x.name().equals(name) && "available".equals(x.state())));
            String id = operator.ok("launch", "--image", "small", "--wait", "running").strip();
            fleet.close(); // the machine dies with its instance on it
            Cli.await(WAIT, name + " offline", operator::nodes, n -> n.stream().anyMatch(x -> x.name().equals(name) && "offline".equals(x.state())));
            Run destroy = operator.run("destroy", id);
            assertEquals(0, destroy.rc(), destroy.err());
            assertEquals(id + " unknown", destroy.out().strip());
            assertTrue(destroy.err().contains("node " + name + " is offline") && destroy.err().contains("destroy --force " + id), destroy.err());
            assertEquals(id + " deleted", operator.ok("destroy", id, "--force").strip());
        } finally {
            for (String n : others) operator.ok("node", "maintenance", n, "off");
            if (lone != null) operator.ok("node", "rm", lone, "--force");
        }
    }

    @Test
    void destroyOfAnUnknownOrDeletedInstance() {
        String unknown = operator.fails(1, "destroy", "i-0000000000000000");
        assertTrue(unknown.contains("no instance i-0000000000000000"), unknown);
        String id = operator.ok("launch", "--image", "small", "--wait", "running").strip();
        assertEquals(id + " destroying", operator.ok("destroy", id, "--wait").strip());
        // Destroying what is gone already changes nothing and says so.
        assertEquals(id + " deleted", operator.ok("destroy", id).strip());
        String usage = operator.fails(2, "destroy");
        assertTrue(usage.contains("--all"), usage);
        assertTrue(operator.fails(2, "destroy", id, "--all").contains("not both"));
    }

    @Test
    void eventsWatchAndConsoleShowWhatHappened() throws Exception {
        List<String> ids = operator.ok("launch", "--image", "small", "--count", "2", "--wait", "devirtualized").lines().toList();
        List<Api.Event> events = new ArrayList<>();
        for (String line : operator.ok("events", "--json", "--limit", "1000").lines().toList()) {
            events.add(Jackson.MAPPER.readValue(line, Api.Event.class));
        }
        for (String id : ids) {
            Set<String> types = events.stream().filter(e -> id.equals(e.instanceId())).map(Api.Event::type).collect(Collectors.toSet());
            assertTrue(types.containsAll(Set.of("instance.pending", "instance.scheduled", "instance.streaming", "instance.devirtualized")),
                    id + ": " + types);
        }
        for (int i = 1; i < events.size(); i++) assertTrue(events.get(i - 1).id() < events.get(i).id(), "events out of order");
        assertEquals(2, operator.ok("events", "--limit", "2").lines().count(), "--limit 2 prints the newest two");

        String watch = operator.ok("watch", "--count", "1", "--interval", "100ms");
        for (String id : ids) {
            String row = watch.lines().filter(l -> l.startsWith(id)).findFirst().orElse("");
            assertTrue(row.contains("devirtualized") && row.contains("[" + "#".repeat(30) + "]") && row.contains("100%"),
                    "no full progress bar for " + id + " in:\n" + watch);
        }
        assertTrue(watch.lines().findFirst().orElse("").contains("2 instances"), watch);

        String console = operator.ok("console", ids.getFirst());
        assertTrue(console.contains("BMCAST-READY") && console.contains(ids.getFirst()), console);
        assertTrue(operator.fails(1, "console", "i-nope").contains("no instance i-nope"));
    }

    /**
     * {@code bmcast events --follow} as a process of its own, configured the way a shell user does it
     * ({@code BMCAST_CONTROLLER}, {@code BMCAST_TOKEN}): it prints the newest past event, then each new one as
     * it happens.
     */
    @Test
    void eventsFollowPrintsEventsAsTheyHappen() throws Exception {
        Path log = tmp.resolve("follow.log");
        ProcessBuilder pb = new ProcessBuilder(ClientTestProcesses.bmcastCommand("events", "--follow", "--json", "--limit", "1"))
                .redirectOutput(log.toFile()).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("BMCAST_CONTROLLER", controller.url());
        pb.environment().put("BMCAST_TOKEN", controller.adminToken());
        Process follow = pb.start();
        try {
            Cli.await(WAIT, "the newest past event", () -> read(log), text -> text.lines().count() >= 1);
            String id = operator.ok("launch", "--image", "small", "--wait", "devirtualized").strip();
            String text = Cli.await(WAIT, "the instance's events followed", () -> read(log),
                    t -> t.contains("\"instance.devirtualized\"") && t.contains(id));
            for (String line : text.lines().toList()) {
                Api.Event e = Jackson.MAPPER.readValue(line, Api.Event.class);
                assertTrue(e.id() > 0 && e.type() != null, line);
            }
            assertEquals(1, text.lines().filter(l -> l.contains(id) && l.contains("\"instance.pending\"")).count(),
                    "each event once:\n" + text);
        } finally {
            follow.destroyForcibly();
            follow.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /**
     * {@code events --follow} whose token is revoked while it follows: the controller closes the stream, and the
     * command says why and exits 1 (it used to end silently with 0, as if the user had asked it to stop).
     */
    @Test
    void eventsFollowWhoseTokenIsRevokedSaysSoAndFails() throws Exception {
        String token = operator.ok("token", "create", "--project", "follower").strip();
        Cli project = operator.withToken(token, tmp.resolve("follower.token"));
        String tokenId = operator.json(new TypeReference<List<Api.TokenInfo>>() {}, "token", "ls", "--json")
                .stream().filter(t -> "follower".equals(t.project())).findFirst().orElseThrow().id();
        Path log = tmp.resolve("follow-revoked.log");
        ProcessBuilder pb = new ProcessBuilder(ClientTestProcesses.bmcastCommand("events", "--follow", "--json", "--limit", "1"))
                .redirectOutput(log.toFile()).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("BMCAST_CONTROLLER", controller.url());
        pb.environment().put("BMCAST_TOKEN", token);
        Process follow = pb.start();
        try {
            String id = project.ok("launch", "--image", "small").strip();
            // --limit 1 prints at most one past event: a second line of the instance came over the live stream.
            Cli.await(WAIT, "the project's events followed live", () -> read(log),
                    t -> t.lines().filter(l -> l.contains(id)).count() >= 2);
            operator.ok("token", "revoke", tokenId);
            assertTrue(follow.waitFor(60, TimeUnit.SECONDS), "events --follow still runs after its token was revoked");
            String text = read(log);
            assertEquals(1, follow.exitValue(), text);
            assertTrue(text.strip().lines().toList().getLast().startsWith("bmcast: the token is not valid"), text);
        } finally {
            follow.destroyForcibly();
            follow.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    @Timeout(30)
    void aControllerThatIsNotThereIsSaidSoWithinSeconds() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Cli nowhere = new Cli("http://127.0.0.1:" + closed, operator.tokenFile);
        for (String[] command : new String[][] {{"ps"}, {"node", "ls"}, {"launch", "--image", "small"}, {"events", "--follow"}}) {
            String err = nowhere.fails(1, command);
            assertTrue(err.startsWith("bmcast: cannot reach the controller at http://127.0.0.1:" + closed), err);
        }
        String url = new Cli("ftp://x", operator.tokenFile).fails(2, "ps");
        assertTrue(url.contains("--controller must be an http(s) URL"), url);
    }

    @Test
    void anImageInUseIsNotRemoved() {
        operator.ok("image", "add", "spare", "--uri", images.uri("small"));
        String id = operator.ok("launch", "--image", "spare").strip();
        String err = operator.fails(1, "image", "rm", "spare");
        assertTrue(err.contains("image 'spare' is used by 1 instance") && err.contains("destroy them first"), err);
        operator.ok("destroy", id, "--wait");
        assertEquals("image spare removed", operator.ok("image", "rm", "spare").strip());
        assertFalse(operator.ok("image", "ls").contains("spare"));
        assertTrue(operator.fails(1, "image", "rm", "spare").contains("no image named 'spare'"));
    }

    /** A sparse file of {@code size} with 1 MiB of data at its start. */
    private static Path sparse(Path file, long size) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
            byte[] mib = new byte[1 << 20];
            java.util.Arrays.fill(mib, (byte) 0x5a);
            f.write(mib);
        }
        return file;
    }
}
