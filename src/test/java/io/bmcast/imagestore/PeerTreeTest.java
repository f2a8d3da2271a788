package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.Sha256;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The per-chunk distribution tree: the same for every member, acyclic, shallow, roots spread over the members. */
class PeerTreeTest {
    static List<String> members(int n) {
        List<String> m = new ArrayList<>();
        for (int i = 0; i < n; i++) m.add("node-" + i);
        return m;
    }

    static String chunk(int i) {
        return Sha256.hex(ByteBuffer.wrap(("chunk " + i).getBytes()));
    }

    @Test
    void everyMemberComputesTheSameTreeWhateverOrderItWasGivenTheMembersIn() {
        List<String> a = members(40), b = new ArrayList<>(a);
        Collections.reverse(b);
        for (int c = 0; c < 50; c++) assertEquals(new PeerTree(a).ranking(chunk(c)), new PeerTree(b).ranking(chunk(c)));
    }

    @Test
    void aMemberAsksOnlyMembersRankedAboveItAndReachesTheRootInFewHops() {
        PeerTree t = new PeerTree(members(100));
        for (int c = 0; c < 100; c++) {
            List<String> rank = t.ranking(chunk(c));
            assertEquals(100, rank.size());
            assertTrue(t.ancestors(rank.get(0), chunk(c)).isEmpty(), "the root goes to the store");
            Map<String, Integer> children = new HashMap<>();
            for (String m : rank) {
                List<String> up = t.ancestors(m, chunk(c));
                int at = rank.indexOf(m);
                for (String p : up) {
                    assertTrue(rank.indexOf(p) < at, "no cycle: " + p + " ranks above " + m);
                    at = rank.indexOf(p);
                }
                assertTrue(up.size() <= 7, "100 members: at most 7 hops, got " + up.size());
                if (!up.isEmpty()) {
                    assertEquals(rank.get(0), up.get(up.size() - 1), "the chain ends at the root");
                    children.merge(up.get(0), 1, Integer::sum);
                }
            }
            assertTrue(children.values().stream().allMatch(k -> k <= 2), "each member uploads a chunk at most twice: " + children);
        }
    }

    @Test
    void differentChunksHaveDifferentRootsSoTheStoreLoadSpreads() {
        PeerTree t = new PeerTree(members(20));
        Map<String, Integer> roots = new HashMap<>();
        for (int c = 0; c < 2000; c++) roots.merge(t.ranking(chunk(c)).get(0), 1, Integer::sum);
        assertEquals(20, roots.size(), "every member is the root of some chunks");
        assertTrue(roots.values().stream().allMatch(k -> k < 200), "none is the root of more than twice its share: " + roots);
    }

    @Test
    void membersWithTheWholeImageRankFirst() {
        PeerTree t = new PeerTree(members(30), Set.of("node-7", "node-21"));
        for (int c = 0; c < 20; c++) {
            List<String> rank = t.ranking(chunk(c));
            assertEquals(Set.of("node-7", "node-21"), Set.copyOf(rank.subList(0, 2)));
        }
    }
}
