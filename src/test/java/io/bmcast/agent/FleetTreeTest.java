package io.bmcast.agent;

import static io.bmcast.agent.ControllerFixture.unchecked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.PeerList;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One distribution tree for a fleet's launch (issue 13, peers): a controller, three real agents each with its chunk
 * cache and peer server, the busybox guest pushed to S3Proxy, and {@code launch --count 3} of it at once, real QEMU
 * guests. The controller lists every node of the launch as a member of each deployment (scheduled as they all are);
 * each mediator asks its ancestors in each chunk's tree, and each peer server passes on what its own deployment is
 * fetching. So the store sends about one copy of the image for the three, most bytes come from peers, every chunk is
 * verified and none rejected, and every guest reads its data files exact.
 */
class FleetTreeTest {
    static final Duration WAIT = Duration.ofSeconds(300);
    static final int NODES = 3;
    private static final Pattern SELF_CHECK = Pattern.compile(Pattern.quote(GuestImage.SELF_CHECK_LINE) + " (\\d+) of (\\d+) files OK");

    @TempDir
    Path tmp;

    @Test
    @Timeout(1200)
    void nodesLaunchedTogetherTakeOneCopyFromTheStoreBetweenThem() throws Exception {
        io.bmcast.testing.Tools.assume("qemu-system-x86_64");
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        GuestImage guest = b.build(b.defaultDir());
        List<Path> works = new ArrayList<>();
        for (int i = 0; i < NODES; i++) works.add(tmp.resolve("n" + i));
        List<Peering> peerings = new ArrayList<>();
        List<Agent> agents = new ArrayList<>();
        try (LocalS3 s3 = LocalS3.start(tmp.resolve("s3")); ControllerFixture c = new ControllerFixture(tmp)) {
            LocalS3.useLocalCredentials();
            StoreLocation at = s3.location("images", "fleet/tree");
            Manifest manifest;
            try (StoreClient store = StoreClient.open(at)) {
                manifest = FleetPeersTest.pushSparse(store, at, guest.disk());
            }
            long data = manifest.chunks().stream().filter(x -> x != null).count();
            // one copy: each distinct chunk once (a chunk the image holds twice comes from the node's cache the second time)
            long copy = manifest.chunks().stream().filter(x -> x != null).distinct().mapToLong(Manifest.Chunk::storedSize).sum();
            c.addImage("busybox", at.toString(), guest.kernel(), guest.initrd(), guest.append() + " " + GuestImage.SELF_CHECK_FLAG);
            Machine.Config config = new Machine.Config(tmp.resolve("x"), null, 2 * guest.diskSize(), 256L << 20, Duration.ofSeconds(10), List.of());
            for (int i = 0; i < NODES; i++) {
                Peering p = Peering.open(works.get(i), 1L << 30, FleetPeersTest.LOOPBACK, null, "rack1", null, 0);
                peerings.add(p);
                Machine.Config mine = new Machine.Config(works.get(i), null, config.diskBytes(), config.memoryBytes(), config.stopGrace(),
                        config.instanceArgs(), config.scrub());
                agents.add(new Agent("node-" + i, mine, c.agentClient()).peering(p).start());
            }
            ControllerFixture.await(WAIT, "every node available", unchecked(c::nodes),
                    n -> n.size() == NODES && n.stream().allMatch(x -> "available".equals(x.state())));

            List<String> ids = c.launch("busybox", NODES).stream().map(Api.Instance::id).toList();
            List<Api.Instance> done = new ArrayList<>();
            for (String id : ids) done.add(FleetPeersTest.devirtualized(c, id));

            long fromStore = 0;
            long fromPeers = 0;
            long fromCache = 0;
            for (Api.Instance i : done) {
                assertEquals(data, i.chunksVerified(), "every data chunk verified: " + i);
                assertEquals(0, i.chunksRejected(), i.toString());
                fromStore += i.bytesFromStore();
                fromPeers += i.bytesFromPeers();
                fromCache += i.bytesFromCache();
                String console = ControllerFixture.await(WAIT, "instance " + i.id() + "'s self-check", unchecked(() -> c.console(i.id())),
                        con -> SELF_CHECK.matcher(con).find());
                Matcher m = SELF_CHECK.matcher(console);
                assertTrue(m.find() && m.group(1).equals(m.group(2)), "the guest reads every data file exact: " + m.group());
            }
            // Each node's peers file: itself, the two others, nobody complete (a fresh image).
            for (int i = 0; i < NODES; i++) {
                PeerList peers = PeerList.read(works.get(i).resolve("instance/peers"));
                assertEquals(URI.create(peerings.get(i).peerUrl()), peers.self(), "node-" + i);
                Set<URI> others = new java.util.HashSet<>();
                for (int j = 0; j < NODES; j++) if (j != i) others.add(URI.create(peerings.get(j).peerUrl()));
                assertEquals(others, Set.copyOf(peers.peers()), "node-" + i + "'s members: the whole launch");
                assertEquals(List.of(), peers.complete());
            }
            long passedOn = peerings.stream().mapToLong(p -> p.server().bytesServed()).sum();
            long pulledThrough = peerings.stream().mapToLong(p -> p.server().chunksFromProvider()).sum();
            System.out.printf("launch --count %d of busybox (%d chunks, %.1f MiB stored): from the store %.1f MiB (%.2f copies), from peers "
                    + "%.1f MiB, from caches %.1f MiB; peer servers sent %.1f MiB, %d chunks of them from their node's deployment "
                    + "(chunk socket)%n", NODES, data, copy / 1048576.0, fromStore / 1048576.0, fromStore / (double) copy,
                    fromPeers / 1048576.0, fromCache / 1048576.0, passedOn / 1048576.0, pulledThrough);
            assertTrue(fromStore < 2 * copy, "about one copy from the store for the whole launch, not " + NODES + ": "
                    + fromStore + " bytes against " + copy + " for one copy");
            assertTrue(fromPeers > fromStore, "most bytes came from peers: " + fromPeers + " from peers, " + fromStore + " from the store");
            for (String id : ids) c.destroy(id);
            ControllerFixture.await(WAIT, "every node scrubbed", unchecked(c::nodes),
                    n -> n.stream().allMatch(x -> "available".equals(x.state())));
        } finally {
            for (Agent a : agents) a.close();
            for (Peering p : peerings) p.close();
            for (Path w : works) MachineTest.killSession(w);
        }
    }
}
