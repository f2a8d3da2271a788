package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.controller.store.PeerRepository.Holder;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.ByteSources;
import io.bmcast.storage.BootProfileFormat;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The controller as tracker (issue 13, item 3), against the real controller over HTTP on H2 and PostgreSQL: one
 * peer token for the fleet in every Welcome; an assignment lists the members of the image's deployment (cached, or
 * deploying it from scheduled on), nearest first, and which hold all of it, never the node itself nor a node that
 * serves no peers or is offline, the same for every node of a wave; the boot profile is kept
 * once and carried to later launches; where an instance's bytes came from reaches {@code ps --json} and its event.
 */
class TrackerTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void anAssignmentListsThePeersHoldingTheImageNearestFirst(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            fleet.addImage("other", "big");
            // a streams busybox now (other zone); c and d hold it in cache, d in the launching node's zone; e holds
            // another image; x holds busybox but serves no peers.
            ProtocolAgent a = fleet.agent("a", 1024 * MiB).peer("http://127.0.0.1:7001", "z2");
            AgentProtocol.Welcome wa = a.register();
            assertNotNull(wa.peerToken(), "the Welcome carries the fleet's peer token");
            assertTrue(wa.peerToken().length() >= 32, wa.peerToken());
            a.beat();
            fleet.launch(fleet.operator, "busybox", 1);
            a.beat();
            a.take();
            a.phase("streaming");
            a.beat();

            ProtocolAgent c = dirtyPeer(fleet, "c", "http://127.0.0.1:7003", "z2", "busybox");
            ProtocolAgent d = dirtyPeer(fleet, "d", "http://127.0.0.1:7004", "z1", "busybox");
            dirtyPeer(fleet, "e", "http://127.0.0.1:7005", "z1", "other");
            dirtyPeer(fleet, "x", null, "z1", "busybox");
            assertEquals(wa.peerToken(), c.register().peerToken(), "one token for the whole fleet");

            ProtocolAgent n = fleet.agent("n", 1024 * MiB).peer("http://127.0.0.1:7009", "z1");
            n.register();
            n.cached("busybox"); // its own cache: never listed to itself
            n.beat();
            fleet.launch(fleet.operator, "busybox", 1);
            AgentProtocol.Directive dn = n.beat();
            assertEquals(List.of("http://127.0.0.1:7004", "http://127.0.0.1:7003", "http://127.0.0.1:7001"), dn.assignment().peers(),
                    "same zone first, then those holding the whole image, then those streaming it");
            assertEquals(List.of("http://127.0.0.1:7009", "http://127.0.0.1:7004", "http://127.0.0.1:7003"), dn.assignment().complete(),
                    "the complete members, n itself (its cache) among them");
            n.take();
            n.beat();
            n.phase("streaming");
            assertNull(n.beat().assignment().peers(), "peers are sent while the instance may start, not on every heartbeat after");

            // A node that no longer holds it says so: it is not listed again.
            d.cached();
            d.beat();
            ProtocolAgent m = fleet.availableAgent("m", 1024 * MiB);
            fleet.launch(fleet.operator, "busybox", 1);
            List<String> peers = m.beat().assignment().peers();
            assertEquals(Set.of("http://127.0.0.1:7003", "http://127.0.0.1:7001", "http://127.0.0.1:7009"), Set.copyOf(peers));
            assertEquals("http://127.0.0.1:7001", peers.getLast(), "complete copies (c's cache, n's) before the streamer");
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void aBadPeerUrlOrCachedListIsRefusedAndChangesNothing(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            ApiClient join = new ApiClient(fleet.controller.url(), fleet.controller.joinToken());
            for (String bad : List.of("ftp://h:1", "http://h", "http://h:1/path", "http://u@h:1", "not a url")) {
                ApiClient.Response r = join.post("/api/v1/agent/register",
                        new AgentProtocol.Hello("p", 1024 * MiB, 1L << 30, 2, "kvm", true, bad, null));
                assertEquals(400, r.status(), bad + ": " + r.body());
                assertTrue(r.error().startsWith("peerUrl must be http://HOST:PORT"), r.error());
            }
            assertTrue(fleet.operator.get("/api/v1/nodes").as(TestFleet.NODES).isEmpty(), "nothing registered");
            ProtocolAgent p = fleet.availableAgent("p", 1024 * MiB);
            p.cached("../../etc");
            ApiClient.Response r = p.beatRaw();
            assertEquals(400, r.status(), r.body());
            p.cached(new ArrayList<>(java.util.Collections.nCopies(65, "busybox")).toArray(String[]::new));
            assertEquals(400, p.beatRaw().status());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void theFirstBootProfileIsKeptShownAndCarriedToLaterLaunches(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent first = fleet.availableAgent("first", 1024 * MiB);
            ProtocolAgent second = fleet.availableAgent("second", 1024 * MiB);
            ProtocolAgent idle = fleet.agent("idle", 1024 * MiB);
            fleet.launch(fleet.operator, "busybox", 2);
            for (ProtocolAgent a : List.of(first, second)) {
                a.beat();
                a.take();
                a.phase("streaming");
                assertNull(a.beat().assignment().image().bootProfilePath(), "no profile recorded yet");
            }
            // As an agent now sends it: timed (BMCPROF2). An earlier agent's untimed BMCPROF1 is taken too (below).
            byte[] profile = BootProfileFormat.encode(List.of(new BootProfileFormat.Read(0, 65536, 0),
                    new BootProfileFormat.Read(1 << 20, 131072, 2500), new BootProfileFormat.Read(4096, 4096, 7100)), true);

            idle.register();
            idle.dirty(); // never offered: the next launch goes to the node the test names
            idle.beat();
            ApiClient.Response stranger = idle.bootProfile("busybox", profile);
            assertEquals(409, stranger.status(), "a node that runs no instance of the image records nothing: " + stranger.body());
            ApiClient.Response garbage = first.bootProfile("busybox", "not a profile at all".getBytes());
            assertEquals(400, garbage.status(), garbage.body());
            ApiClient.Response torn = first.bootProfile("busybox", java.util.Arrays.copyOf(profile, profile.length - 4));
            assertEquals(400, torn.status(), "BMCPROF2 is whole 16-byte records: " + torn.body());
            ProtocolAgent impostor = fleet.agent("first", 1024 * MiB);
            impostor.credential("bmn_" + "2".repeat(64));
            assertEquals(403, impostor.bootProfile("busybox", profile).status());

            ApiClient.Response kept = first.bootProfile("busybox", profile);
            assertEquals(200, kept.status(), kept.body());
            assertTrue(kept.as(Api.BootProfileRecorded.class).recorded());
            ApiClient.Response later = second.bootProfile("busybox", profile(new long[] {8192, 4096}));
            assertEquals(200, later.status(), "an earlier agent's BMCPROF1 is a profile too: " + later.body());
            assertFalse(later.as(Api.BootProfileRecorded.class).recorded(), "recorded once: the first deployment's");

            Api.Image image = fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).getFirst();
            assertTrue(image.hasBootProfile());
            assertEquals(profile.length, image.bootProfileBytes());
            assertTrue(fleet.events().stream().anyMatch(e -> e.type().equals("image.boot-profile") && e.message().contains("first")
                    && e.message().contains("(3 reads")));

            // The next launch carries it; the agent downloads exactly what was recorded.
            ProtocolAgent third = fleet.availableAgent("third", 1024 * MiB);
            fleet.launch(fleet.operator, "busybox", 1);
            String path = third.beat().assignment().image().bootProfilePath();
            assertEquals("/api/v1/images/busybox/boot-profile", path);
            HttpResponse<byte[]> got = ApiClient.HTTP.send(HttpRequest.newBuilder(URI.create(fleet.controller.url() + path))
                    .header("Authorization", "Bearer " + fleet.controller.joinToken()).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, got.statusCode());
            assertArrayEquals(profile, got.body());
            String etag = got.headers().firstValue("ETag").orElseThrow();
            HttpResponse<byte[]> again = ApiClient.HTTP.send(HttpRequest.newBuilder(URI.create(fleet.controller.url() + path))
                    .header("Authorization", "Bearer " + fleet.controller.joinToken()).header("If-None-Match", etag).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(304, again.statusCode());
        }
    }

    @ParameterizedTest
    @EnumSource(Db.class)
    void whereTheBytesCameFromReachesPsAndTheFullyLocalEvent(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir)) {
            fleet.addImage("busybox", "small");
            ProtocolAgent a = fleet.availableAgent("a", 1024 * MiB);
            String id = fleet.launch(fleet.operator, "busybox", 1).getFirst().id();
            a.beat();
            a.take();
            a.phase("streaming");
            a.sources(new ByteSources(0, 380 * MiB, 32 * MiB, 412, 0));
            a.beat();
            Api.Instance seen = fleet.instance(id);
            assertEquals(380 * MiB, seen.bytesFromPeers());
            assertEquals(32 * MiB, seen.bytesFromStore());
            assertEquals(412, seen.chunksVerified());
            a.phase("devirtualized");
            a.beat();
            assertTrue(fleet.events().stream().anyMatch(e -> e.message().endsWith(
                    "devirtualized on node a: 412 MiB local: 380 MiB from peers, 32.0 MiB from the store, 0 from cache; 412 chunks verified, 0 rejected")),
                    () -> fleet.events().toString());
            String negative = "{\"name\":\"a\",\"seq\":999999,\"diskClean\":false,\"instance\":{\"id\":\"" + id
                    + "\",\"phase\":\"devirtualized\",\"fractionLocal\":1,\"console\":\"\",\"sources\":{\"chunksVerified\":-1}}}";
            ApiClient.Response refused = a.send("/api/v1/agent/heartbeat", negative);
            assertEquals(400, refused.status(), "a negative count is refused: " + refused.body());
        }
    }

    /**
     * The nodes of a launch see each other at once (scheduled and starting count), whatever the order of their
     * heartbeats: every deployment of the wave is given the same members, so their trees agree. An offline node and
     * a node that serves no peers are never members; one that holds the image (its cache reports it, or its instance
     * is local) is marked complete.
     */
    @ParameterizedTest
    @EnumSource(Db.class)
    void everyDeploymentOfAWaveIsGivenTheSameMembers(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir, Duration.ofSeconds(5))) {
            fleet.addImage("busybox", "small");
            dirtyPeer(fleet, "gone", "http://127.0.0.1:7100", "z1", "busybox");
            TestFleet.await("node gone offline", () -> fleet.node("gone").state(), "offline"::equals);
            ProtocolAgent holder = dirtyPeer(fleet, "holder", "http://127.0.0.1:7101", "z1", "busybox");
            dirtyPeer(fleet, "mute", null, "z1", "busybox");
            List<ProtocolAgent> wave = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                ProtocolAgent w = fleet.agent("w" + i, 1024 * MiB).peer("http://127.0.0.1:720" + i, "z1");
                w.register();
                w.beat();
                wave.add(w);
            }
            fleet.launch(fleet.operator, "busybox", 3);
            Set<String> everyone = Set.of("http://127.0.0.1:7101", "http://127.0.0.1:7201", "http://127.0.0.1:7202", "http://127.0.0.1:7203");
            for (int i = wave.size() - 1; i >= 0; i--) { // heartbeats in another order than the placements
                AgentProtocol.Assignment a = wave.get(i).beat().assignment();
                String self = "http://127.0.0.1:720" + (i + 1);
                assertFalse(a.peers().contains(self), "never its own peer: " + a.peers());
                Set<String> members = new HashSet<>(a.peers());
                members.add(self);
                assertEquals(everyone, members, "w" + (i + 1) + ": the whole wave and the holder, scheduled as they are");
                assertEquals(List.of("http://127.0.0.1:7101"), a.complete(), "the holder's cache holds it all");
                assertEquals("http://127.0.0.1:7101", a.peers().getFirst(), "complete first");
            }

            // w1 starting, w2 streaming, w3 local: a later launch sees all three, and w3 as complete.
            String[] phases = {"starting", "streaming", "devirtualized"};
            for (int i = 0; i < 3; i++) {
                wave.get(i).take();
                wave.get(i).phase(phases[i]);
                wave.get(i).beat();
            }
            holder.beat(); // heard within the 5 s timeout on a slow machine too
            ProtocolAgent late = fleet.agent("late", 1024 * MiB).peer("http://127.0.0.1:7300", "z1");
            late.register();
            late.beat();
            fleet.launch(fleet.operator, "busybox", 1);
            AgentProtocol.Assignment a = late.beat().assignment();
            assertEquals(everyone, Set.copyOf(a.peers()));
            assertEquals(Set.of("http://127.0.0.1:7101", "http://127.0.0.1:7203"), Set.copyOf(a.complete()));
            assertEquals(Set.of("http://127.0.0.1:7101", "http://127.0.0.1:7203"), Set.copyOf(a.peers().subList(0, 2)), "complete first");
        }
    }

    /** The members as the tracker lists them, from the rows its queries return: each once, complete marked, capped. */
    @Test
    void membersAreEveryHolderOnceCompleteFirstUpToTheCap() {
        List<Holder> rows = new ArrayList<>();
        for (int i = 0; i < 300; i++) rows.add(new Holder(String.format("n%03d", i), "http://10.0.1." + i + ":7301", null, false));
        rows.add(new Holder("n007", "http://10.0.1.7:7301", null, true)); // cached too: complete wins
        rows.add(new Holder("self", "http://10.0.9.9:7301", null, true));
        Tracker.Members m = Tracker.members(rows, "self");
        assertEquals(Tracker.MAX_MEMBERS - 1, m.peers().size(), "capped, the node itself counted");
        assertEquals("http://10.0.1.7:7301", m.peers().getFirst(), "complete first");
        assertEquals(m.peers().size(), Set.copyOf(m.peers()).size(), "each node once");
        assertEquals("http://10.0.1.0:7301", m.peers().get(1), "then by name, the same for every asker");
        assertEquals(List.of("http://10.0.9.9:7301", "http://10.0.1.7:7301"), m.complete(), "itself included when it holds the image");
        assertEquals(m, Tracker.members(rows.reversed(), "self"), "the order of the rows changes nothing");
    }

    /** A zone with enough members makes a tree of its own; a smaller one joins everyone, its own zone first. */
    @Test
    void aZoneWithEnoughMembersKeepsToItself() {
        List<Holder> rows = new ArrayList<>();
        for (int i = 0; i < Tracker.ZONE_ENOUGH; i++) rows.add(new Holder("a" + i, "http://10.0.1." + i + ":7301", "z1", false));
        for (int i = 0; i < 3; i++) rows.add(new Holder("b" + i, "http://10.0.2." + i + ":7301", "z2", false));
        rows.add(new Holder("c", "http://10.0.3.1:7301", "z2", true));
        Tracker.Members big = Tracker.members(rows, "a0");
        assertEquals(Tracker.ZONE_ENOUGH - 1, big.peers().size(), big.peers().toString());
        assertTrue(big.peers().stream().allMatch(u -> u.startsWith("http://10.0.1.")), "z1's members alone: " + big.peers());
        assertEquals(List.of(), big.complete());
        Tracker.Members small = Tracker.members(rows, "b0");
        assertEquals(rows.size() - 1, small.peers().size(), "z2 has too few: every member");
        assertEquals(List.of("http://10.0.3.1:7301", "http://10.0.2.1:7301", "http://10.0.2.2:7301"), small.peers().subList(0, 3),
                "its own zone first (complete first within it)");
        assertEquals(List.of("http://10.0.3.1:7301"), small.complete());
    }

    /** A registered node with a dirty disk (never offered) that serves peers at {@code url} and holds {@code cached}. */
    private static ProtocolAgent dirtyPeer(TestFleet fleet, String name, String url, String zone, String... cached) {
        ProtocolAgent p = fleet.agent(name, 1024 * MiB).peer(url, zone);
        p.register();
        p.dirty();
        p.cached(cached);
        p.beat();
        return p;
    }

    /** An untimed profile (BMCPROF1), as agents of an earlier version send. */
    private static byte[] profile(long[]... reads) {
        ByteBuffer b = ByteBuffer.allocate(8 + 12 * reads.length).putLong(0x424D4350524F4631L);
        for (long[] r : reads) b.putLong(r[0]).putInt((int) r[1]);
        return b.array();
    }
}
