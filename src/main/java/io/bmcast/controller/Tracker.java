package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.PeerRepository;
import io.bmcast.controller.store.PeerRepository.Holder;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The controller as tracker (Kraken's tracker, in one class): it knows which nodes hold an image's chunks, because
 * it placed the instances that stream or run the image and the agents report the images their caches hold; an
 * assignment lists up to {@link #MAX_PEERS} of them, nearest first. It also keeps the fleet's peer token: one secret,
 * made once, stored in the database, handed to each agent at registration.
 *
 * <p>Order: a peer in the asking node's zone first (a rack's switch is cheaper than the spine); then a peer holding
 * the whole image before one still streaming it (the streamer may not have the chunk yet and then answers 404). Peers
 * equal by both are shuffled, so that a hundred nodes launching one image do not all ask the same peer first.
 */
public final class Tracker {
    /** Enough to spread a herd and to survive a few dead peers; more only lengthens the agent's file. */
    public static final int MAX_PEERS = 8;
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

    /** Up to {@link #MAX_PEERS} base URLs of peers likely to hold {@code image}'s chunks for {@code node}, nearest first. */
    List<String> peersFor(String image, String node, String zone) {
        List<Holder> holders = db.read(tx -> peers.holders(tx, image, node, MAX_PEERS * 4));
        return order(holders, zone, new Random());
    }

    /** The zone {@code node} registered with, or null. */
    String zoneOf(String node) {
        return db.read(tx -> peers.zone(tx, node)).orElse(null);
    }

    /**
     * {@code holders} ordered for a node in {@code zone} (see the class comment), each node once (as its best
     * kind), at most {@link #MAX_PEERS}. Visible for testing.
     */
    static List<String> order(List<Holder> holders, String zone, Random random) {
        // each node once, as complete if any row says so
        java.util.Map<String, Holder> best = new java.util.LinkedHashMap<>();
        for (Holder h : holders) best.merge(h.node(), h, (a, b) -> a.complete() ? a : b);
        List<Holder> all = new ArrayList<>(best.values());
        Collections.shuffle(all, random); // equals stay shuffled: the sort below is stable
        all.sort(Comparator.comparingInt((Holder h) -> zone != null && zone.equals(h.zone()) ? 0 : 1)
                .thenComparingInt(h -> h.complete() ? 0 : 1));
        LinkedHashSet<String> urls = new LinkedHashSet<>();
        for (Holder h : all) {
            if (urls.size() == MAX_PEERS) break;
            urls.add(Objects.requireNonNull(h.peerUrl()));
        }
        return List.copyOf(urls);
    }
}
