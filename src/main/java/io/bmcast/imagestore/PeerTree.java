package io.bmcast.imagestore;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One distribution tree per chunk over the members of a deployment, by rendezvous (highest random weight)
 * hashing. Every member computes the same ranking from the same member list, with no coordination: for chunk c,
 * members sorted by weight(member, c) descending. The member of rank 0 fetches c from the store; a member of rank
 * r asks its parent, rank (r-1)/2, then that one's parent, up to rank 0. So the store sends each chunk about once,
 * every member uploads each chunk to at most two children, and a chunk reaches 100 members in 7 hops. Different
 * chunks get different roots, so the store's and the uplinks' load spreads over the whole deployment.
 *
 * <p>Members that already hold the whole image (a complete cache) rank above all others, in their own HRW order:
 * a relaunch then never goes to the store at all. A member only ever asks members ranked above it, so requests
 * cannot form a cycle. Pure and immutable.
 */
public final class PeerTree {
    private final List<String> complete;
    private final List<String> others;
    private final long[] completeSeeds;
    private final long[] otherSeeds;

    /**
     * {@code members}: every member of the deployment (order does not matter); {@code complete}: those among them
     * that hold every chunk.
     */
    public PeerTree(List<String> members, Set<String> complete) {
        Set<String> all = new LinkedHashSet<>(members);
        this.complete = all.stream().filter(complete::contains).sorted().toList();
        this.others = all.stream().filter(m -> !complete.contains(m)).sorted().toList();
        this.completeSeeds = seeds(this.complete);
        this.otherSeeds = seeds(this.others);
    }

    public PeerTree(List<String> members) {
        this(members, Set.of());
    }

    public int size() {
        return complete.size() + others.size();
    }

    /** The members in the chunk's order: rank 0 first. */
    public List<String> ranking(String sha256) {
        long c = chunkSeed(sha256);
        List<String> out = new ArrayList<>(size());
        out.addAll(ordered(complete, completeSeeds, c));
        out.addAll(ordered(others, otherSeeds, c));
        return out;
    }

    /**
     * Whom {@code self} asks for the chunk, nearest first: its parent, the parent's parent, ... rank 0. Empty for
     * rank 0 (it goes to the store) and for a non-member.
     */
    public List<String> ancestors(String self, String sha256) {
        List<String> rank = ranking(sha256);
        int r = rank.indexOf(self);
        List<String> out = new ArrayList<>();
        while (r > 0) {
            r = (r - 1) / 2;
            out.add(rank.get(r));
        }
        return out;
    }

    private static List<String> ordered(List<String> members, long[] seeds, long chunk) {
        if (members.isEmpty()) return List.of();
        Integer[] idx = new Integer[members.size()];
        long[] weight = new long[members.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
            weight[i] = mix(seeds[i] ^ chunk);
        }
        // Highest weight first; ties (astronomically rare) by name, which the lists are sorted by.
        java.util.Arrays.sort(idx, Comparator.<Integer>comparingLong(i -> weight[i]).reversed().thenComparingInt(i -> i));
        List<String> out = new ArrayList<>(idx.length);
        for (int i : idx) out.add(members.get(i));
        return out;
    }

    private static long[] seeds(List<String> members) {
        long[] s = new long[members.size()];
        for (int i = 0; i < s.length; i++) s[i] = nameSeed(members.get(i));
        return s;
    }

    /** FNV-1a over the name, then mixed: a stable 64-bit seed per member. */
    private static long nameSeed(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h);
    }

    /** A chunk's name is already a uniform hash: its first 16 hex digits are its seed. */
    private static long chunkSeed(String sha256) {
        return Long.parseUnsignedLong(sha256.substring(0, 16), 16);
    }

    /** SplitMix64's finaliser: every input bit moves every output bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
