package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.PeerRepository;
import io.bmcast.controller.store.PeerRepository.Holder;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The controller as tracker (Kraken's tracker, in one class): it knows which nodes hold or fetch an image's chunks,
 * because it placed the instances that deploy or run the image and the agents report the images their caches hold.
 * It also keeps the fleet's peer token: one secret, made once, stored in the database, handed to each agent at
 * registration.
 *
 * <p>An assignment lists the deployment's members: every node that shares the image (cached, or an instance of it
 * from scheduled to stopped; not offline), and which of them hold all of it. Every deployment of a wave is given
 * (nearly) the same list, so that their mediators compute the same distribution tree per chunk ({@code PeerTree}:
 * the store sends each chunk about once, each member passes it on to two). Nothing is shuffled or cut to a few:
 * the tree spreads the load, and its order comes from hashing, not from the list. Lists that differ (heartbeats
 * read at different moments of a wave) cost store traffic but never a cycle: a member asks only members ranked above
 * it by the chunk's hash.
 *
 * <p>Zones: when the node's own zone holds at least {@link #ZONE_ENOUGH} members, the list is that zone's alone (a
 * rack's switch is cheaper than the spine; the store then sends each chunk once per zone); otherwise every member,
 * same zone first (the order old agents, which ask in order, still see).
 */
public final class Tracker {
    /**
     * The most members an assignment lists: a tree of 256 is 8 levels deep, and the list (~30 bytes a member) is
     * sent only while an instance is scheduled or starting.
     */
    public static final int MAX_MEMBERS = 256;
    /**
     * A zone with this many members makes a tree of its own: the store sends each chunk once into the zone, and the
     * zone's members pass it on seven times, so a copy from the store per zone is the small part.
     */
    static final int ZONE_ENOUGH = 8;
    static final String PEER_TOKEN = "peer-token";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Database db;
    private final PeerRepository peers;
    private final LongSupplier clockMs;
    private volatile String token;
    /** What each node last reported cached, so that an unchanged list (the usual heartbeat) costs no write. */
    private final ConcurrentHashMap<String, List<String>> reported = new ConcurrentHashMap<>();

    public Tracker(Database db, PeerRepository peers, LongSupplier clockMs) {
        this.db = db;
        this.peers = peers;
        this.clockMs = clockMs;
    }

    /** The fleet's peer token: made at the first call on a new database, the same one for ever after. */
    public String peerToken() {
        String t = token;
        if (t != null) return t;
        synchronized (this) {
            if (token != null) return token;
            String fresh = "bmp_" + HexFormat.of().formatHex(bytes());
            db.read(tx -> peers.insertSecret(tx, PEER_TOKEN, fresh, clockMs.getAsLong()));
            // another controller on the same database may have made it first: the stored one is the fleet's
            token = db.read(tx -> peers.secret(tx, PEER_TOKEN)).orElseThrow(() -> new IllegalStateException("the peer token was not stored"));
            return token;
        }
    }

    private static byte[] bytes() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return b;
    }

    /** A node's agent registered: where it serves peers (null: not at all) and its zone. */
    void registered(String node, String peerUrl, String zone) {
        db.read(tx -> {
            peers.setPeer(tx, node, peerUrl, zone);
            return null;
        });
    }

    /** A heartbeat's list of cached images: written only when it changed since this node's last one. */
    void cached(String node, List<String> images) {
        List<String> now = images == null ? List.of() : List.copyOf(new java.util.TreeSet<>(images));
        if (now.equals(reported.get(node))) return;
        db.read(tx -> {
            peers.setCached(tx, node, now, clockMs.getAsLong());
            return null;
        });
        reported.put(node, now);
    }

    /** A node removed (its cached rows went with it): forget its last list, so that a new agent's is written. */
    void forget(String node) {
        reported.remove(node);
    }

    /**
     * A deployment's members as its assignment carries them.
     *
     * @param peers the other members' peer URLs, same zone first, then complete, then by node name
     * @param complete the members (the assigned node's own URL included) whose caches hold the whole image
     */
    record Members(List<String> peers, List<String> complete) {}

    /** The members of {@code node}'s deployment of {@code image} (see the class comment). Two queries. */
    Members membersFor(String image, String node) {
        return members(db.read(tx -> peers.members(tx, image, MAX_MEMBERS)), node);
    }

    /**
     * The members among {@code rows} for a deployment on {@code node}: each node once (complete if any row says so),
     * its zone's alone when there are at least {@link #ZONE_ENOUGH} of them, at most {@link #MAX_MEMBERS} with
     * {@code node} itself. Visible for testing.
     */
    static Members members(List<Holder> rows, String node) {
        Map<String, Holder> each = new LinkedHashMap<>();
        for (Holder h : rows) each.merge(h.node(), h, (a, b) -> a.complete() ? a : b);
        Holder self = each.get(node);
        String zone = self == null ? null : self.zone();
        List<Holder> all = new ArrayList<>(each.values());
        if (zone != null && all.stream().filter(h -> zone.equals(h.zone())).count() >= ZONE_ENOUGH) {
            all.removeIf(h -> !zone.equals(h.zone()));
        }
        all.sort(Comparator.comparingInt((Holder h) -> zone != null && zone.equals(h.zone()) ? 0 : 1)
                .thenComparingInt(h -> h.complete() ? 0 : 1).thenComparing(Holder::node));
        List<String> others = new ArrayList<>();
        List<String> complete = new ArrayList<>();
        if (self != null && self.complete()) complete.add(self.peerUrl());
        for (Holder h : all) {
            if (h.node().equals(node)) continue;
            if (others.size() == MAX_MEMBERS - 1) break;
            others.add(Objects.requireNonNull(h.peerUrl()));
            if (h.complete()) complete.add(h.peerUrl());
        }
        return new Members(List.copyOf(others), List.copyOf(complete));
    }
}
