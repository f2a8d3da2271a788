package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.agent.Agent;
import io.bmcast.agent.Leftovers;
import io.bmcast.agent.Machine;
import io.bmcast.agent.WorkFiles;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.controller.PostgresFixture;
import io.bmcast.fleet.Api;
import io.bmcast.guest.Ext4Image;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.storage.FileHoles;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.Jackson;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fleet's whole lifecycle as its user drives it, through the CLI only, on H2 and on PostgreSQL: a real
 * controller, a real image server with the busybox guest (added with its kernel, so the upload and the agents'
 * download of boot files run), and three real agents (each with its own 32 GiB sparse disk, each running
 * {@code bmcast instance run} for its instance). Three instances are launched at once, each guest checks the
 * image's data it streamed and writes a file of its own (the image's command line says {@code bmcast.selfcheck}),
 * all de-virtualize, all are destroyed; the nodes are offered again, and no byte of the image or of what the
 * guests wrote is left in any agent's files. A second launch on the scrubbed nodes waits for de-virtualized.
 */
class FleetLifecycleTest {
    static final Duration WAIT = Duration.ofSeconds(240);
    static final int NODES = 3;
    static final long DISK = 32L << 30;
    static final Pattern SELF_CHECK = Pattern.compile("bmcast-selfcheck: (\\d+) of (\\d+) files OK, wrote (\\S+) \\((\\d+) lines\\)");
    /**
     * The order an instance's events come in. Others may be in between: starting, scrubbing, and streaming, which
     * an agent may not report when its guest de-virtualizes between two of its looks.
     */
    static final List<String> LIFECYCLE = List.of("instance.pending", "instance.scheduled", "instance.devirtualized",
            "instance.destroying", "instance.deleted");

    enum Db { H2, POSTGRESQL }

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(Db.class)
    @Timeout(900)
    void threeRealInstancesLaunchedCheckedDestroyedAndScrubbedThroughTheCli(Db db) throws Exception {
        Tools.assume("qemu-system-x86_64", "e2fsck", "debugfs", "qemu-img");
        String jdbc = db == Db.POSTGRESQL ? PostgresFixture.shared().newDatabase() : null;
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        String tag = "t" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        byte[] guestWrote = ("bmcast-selfcheck-wrote-" + tag).getBytes(StandardCharsets.US_ASCII);
        List<byte[]> imageData = imageData(guest);
        List<Path> works = new ArrayList<>();
        for (int i = 1; i <= NODES; i++) works.add(tmp.resolve("node-" + i));

        List<Agent> agents = new ArrayList<>();
        try (ClientTestProcesses procs = new ClientTestProcesses();
                Controller controller = Controller.start(ControllerConfig.defaults(tmp.resolve("controller")).withJdbcUrl(jdbc));
                HttpClient agentHttp = io.bmcast.agent.ControllerClient.sharedHttp()) {
            Path images = Files.createDirectories(tmp.resolve("images"));
            Files.createSymbolicLink(images.resolve("disk.img"), guest.disk());
            Path sock = procs.path("image.sock");
            procs.bmcastOn(sock, "image-server", "--dir", images.toString(), "--socket", sock.toString(), "--rate", "2Gbit");
            Cli cli = new Cli(controller.url(), tmp.resolve("controller/admin.token"));

            String added = cli.ok("image", "add", "busybox", "--uri", NbdUri.unix(sock, "disk").toString(),
                    "--kernel", guest.kernel().toString(), "--initrd", guest.initrd().toString(), "--append", guest.append() + " " + GuestImage.SELF_CHECK_FLAG + "=" + tag);
            assertTrue(added.contains("boots its own kernel"), added);

            for (int i = 0; i < NODES; i++) {
                Machine.Config config = new Machine.Config(works.get(i), null, DISK, 256L << 20, Duration.ofSeconds(10), List.of());
                io.bmcast.agent.ControllerClient join = new io.bmcast.agent.ControllerClient(URI.create(controller.url()),
                        controller.joinToken(), agentHttp);
                agents.add(new Agent("node-" + (i + 1), config, join).start());
            }
            List<Api.Node> nodes = Cli.await(WAIT, NODES + " nodes available in `node ls`", cli::nodes,
                    n -> n.size() == NODES && n.stream().allMatch(x -> "available".equals(x.state())));
            assertTrue(nodes.stream().allMatch(n -> n.diskBytes() == DISK), nodes.toString());

            // Round 1: --wait running, then each guest checked, then all de-virtualized.
            List<String> ids = cli.ok("launch", "--image", "busybox", "--count", "3", "--wait", "running").lines().toList();
            assertEquals(NODES, ids.size(), "one id per line: " + ids);
            Map<String, Api.Instance> running = cli.ps().stream().collect(Collectors.toMap(Api.Instance::id, i -> i));
            assertEquals(Set.copyOf(ids), running.keySet(), "ps shows the launched instances and no others");
            for (Api.Instance i : running.values()) {
                assertEquals("busybox", i.image(), i.toString());
                assertTrue(Set.of("streaming", "devirtualized").contains(i.state()), "--wait running returned with " + i);
            }
            assertEquals(NODES, running.values().stream().map(Api.Instance::node).distinct().count(), "each on a node of its own: " + running);
            for (String id : ids) assertSelfChecked(cli, id, guest, tag);
            Cli.await(WAIT, "all three devirtualized in `ps`", cli::ps,
                    l -> l.size() == NODES && l.stream().allMatch(i -> "devirtualized".equals(i.state())));
            for (Path work : works) {
                assertFalse(WorkFiles.find(work, List.of(guestWrote)).isEmpty(), "the guest's writes are not on " + work + "'s disk");
                assertFalse(WorkFiles.find(work, imageData).isEmpty(), "the image's data is not on " + work + "'s disk");
            }
            destroyAll(cli, ids);

            // Round 2, on the scrubbed nodes: --wait devirtualized returns only once every one is.
            List<String> again = cli.ok("launch", "--image", "busybox", "--count", "3", "--wait", "devirtualized").lines().toList();
            assertEquals(NODES, again.size(), again.toString());
            List<Api.Instance> local = cli.ps();
            assertEquals(Set.copyOf(again), local.stream().map(Api.Instance::id).collect(Collectors.toSet()));
            assertTrue(local.stream().allMatch(i -> "devirtualized".equals(i.state()) && i.fractionLocal() >= 0.999),
                    "--wait devirtualized returned with " + local);
            for (String id : again) assertSelfChecked(cli, id, guest, tag);
            destroyAll(cli, again);

            for (Path work : works) {
                assertEquals(List.of(), WorkFiles.find(work, imageData), "the image's data is left under " + work);
                assertEquals(List.of(), WorkFiles.find(work, List.of(guestWrote)), "the guests' writes are left under " + work);
                try (FileHoles disk = FileHoles.open(work.resolve("disk.img"), false)) {
                    assertEquals(-1, disk.nextData(0), "a data extent is left on " + work + "'s disk");
                }
            }

            List<Api.Instance> history = cli.ps("--all");
            assertEquals(2 * NODES, history.size(), "ps --all shows the deleted instances: " + history);
            assertTrue(history.stream().allMatch(i -> "deleted".equals(i.state())), history.toString());
            assertLifecycleInEvents(cli, ids, again);
        } finally {
            for (Agent a : agents) a.close();
            works.forEach(Leftovers::killInstance);
        }
    }

    /** The guest's own verdict on the image data it read, and its write, from {@code bmcast console ID}. */
    private static void assertSelfChecked(Cli cli, String id, GuestImage guest, String tag) throws InterruptedException {
        String console = Cli.await(WAIT, "instance " + id + "'s self-check on its console", () -> cli.ok("console", id),
                c -> c.contains(guest.readyMarker()) && SELF_CHECK.matcher(c).find());
        Matcher m = SELF_CHECK.matcher(console);
        assertTrue(m.find());
        int files = guest.checksums().size();
        assertEquals(files + " of " + files + " " + tag, m.group(1) + " of " + m.group(2) + " " + m.group(3),
                "instance " + id + "'s guest found bad data: " + m.group());
        assertTrue(Long.parseLong(m.group(4)) > 0, m.group());
    }

    /** {@code destroy --all --wait}: every instance deleted, every node available at once, nothing left in ps. */
    private static void destroyAll(Cli cli, List<String> ids) {
        String out = cli.ok("destroy", "--all", "--wait");
        assertEquals(Set.copyOf(ids), out.lines().map(l -> l.split(" ")[0]).collect(Collectors.toSet()), out);
        assertEquals(List.of(), cli.ps(), "instances left after destroy --all --wait");
        List<Api.Node> nodes = cli.nodes();
        assertTrue(nodes.stream().allMatch(n -> "available".equals(n.state()) && n.instanceId() == null),
                "destroy --wait returned before every node was scrubbed and available: " + nodes);
    }

    private static void assertLifecycleInEvents(Cli cli, List<String> first, List<String> second) throws Exception {
        List<Api.Event> events = new ArrayList<>();
        for (String line : cli.ok("events", "--limit", "1000", "--json").lines().toList()) {
            events.add(Jackson.MAPPER.readValue(line, Api.Event.class));
        }
        List<String> all = new ArrayList<>(first);
        all.addAll(second);
        for (String id : all) {
            List<String> types = events.stream().filter(e -> id.equals(e.instanceId())).map(Api.Event::type).toList();
            int at = 0;
            for (String t : types) if (at < LIFECYCLE.size() && LIFECYCLE.get(at).equals(t)) at++;
            assertEquals(LIFECYCLE.size(), at, "instance " + id + "'s events miss " + LIFECYCLE.subList(at, LIFECYCLE.size())
                    + " in order; they are " + types);
        }
        String text = cli.ok("events", "--limit", "1000");
        for (String id : all) assertTrue(text.contains(id), "`events` does not name " + id);
    }

    /** Pieces of the image's test data files (pseudo-random: found nowhere but where the image was copied). */
    private static List<byte[]> imageData(GuestImage guest) throws Exception {
        List<byte[]> out = new ArrayList<>();
        for (String name : guest.checksums().keySet()) {
            byte[] data = Ext4Image.readFile(guest.disk(), guest.dataDir() + "/" + name);
            out.add(Arrays.copyOfRange(data, data.length / 2, data.length / 2 + 64));
        }
        return out;
    }
}
