package io.bmcast.controller.store;

import io.bmcast.fleet.InstanceState;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The tracker's tables: the fleet's peer token, where each node serves its chunk cache (and its zone), and which
 * images each node's cache holds. What the tracker asks per assignment is two queries: {@link #members}.
 */
public final class PeerRepository {
    /** The instance states whose node shares the instance's image, as SQL ('scheduled', 'starting', ...). */
    private static final String SHARING_STATES = java.util.Arrays.stream(InstanceState.values()).filter(InstanceState::sharesImage)
            .map(st -> "'" + st.wire() + "'").collect(java.util.stream.Collectors.joining(", "));

    /**
     * A node that may serve an image's chunks.
     *
     * @param complete its cache holds the whole image (its agent reports it cached), or its instance of it is local;
     *                 false: it is deploying the image now
     */
    public record Holder(String node, String peerUrl, String zone, boolean complete) {}

    /** The secret named {@code name}; empty when none was made yet. */
    public Optional<String> secret(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT secret FROM fleet_secrets WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getString(1)) : Optional.empty();
            }
        }
    }

    /** Stores {@code secret} under {@code name} unless one is there; false when one was (then nothing changed). Auto-commit. */
    public boolean insertSecret(Tx tx, String name, String secret, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO fleet_secrets (name, secret, created_at) VALUES (?, ?, ?)")) {
            ps.setString(1, name);
            ps.setString(2, secret);
            ps.setLong(3, nowMs);
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            if (StoreException.isDuplicateKey(e)) return false;
            throw e;
        }
    }

    /** Where the node serves peers and its zone (either may be null), as its agent said at registration. */
    public void setPeer(Tx tx, String node, String peerUrl, String zone) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE nodes SET peer_url = ?, zone = ? WHERE name = ?")) {
            ps.setString(1, peerUrl);
            ps.setString(2, zone);
            ps.setString(3, node);
            ps.executeUpdate();
        }
    }

    /** Replaces the images the node reports cached with {@code images}. */
    public void setCached(Tx tx, String node, List<String> images, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM node_cached_images WHERE node = ?")) {
            ps.setString(1, node);
            ps.executeUpdate();
        }
        if (images.isEmpty()) return;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO node_cached_images (node, image, reported_at) SELECT name, ?, ? FROM nodes WHERE name = ?")) {
            for (String image : images) {
                ps.setString(1, image);
                ps.setLong(2, nowMs);
                ps.setString(3, node);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /** The images {@code node} reported cached, by name. */
    public List<String> cached(Tx tx, String node) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT image FROM node_cached_images WHERE node = ? ORDER BY image")) {
            ps.setString(1, node);
            List<String> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(rs.getString(1));
            }
            return out;
        }
    }

    /**
     * The nodes that share {@code image} (issue 13's deployment members): those that serve peers, are not offline,
     * and hold the image's chunks in their cache (reported) or have an instance of it that {@link
     * InstanceState#sharesImage shares it}: from scheduled (so that nodes launched together see each other at once)
     * to stopped. The asking node is among them when it serves peers. Two queries, each of at most {@code limit}
     * rows taken by node name, so that every deployment of a wave is given the same ones whatever the order of its
     * heartbeats; a node may appear twice (cached, and deploying), and the caller keeps it once.
     */
    public List<Holder> members(Tx tx, String image, int limit) throws SQLException {
        List<Holder> out = new ArrayList<>();
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT n.name, n.peer_url, n.zone FROM node_cached_images c JOIN nodes n ON n.name = c.node"
                        + " WHERE c.image = ? AND n.peer_url IS NOT NULL AND n.state <> 'offline'"
                        + " ORDER BY n.name FETCH FIRST " + limit + " ROWS ONLY")) {
            ps.setString(1, image);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(new Holder(rs.getString(1), rs.getString(2), rs.getString(3), true));
            }
        }
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT n.name, n.peer_url, n.zone, i.state FROM instances i JOIN nodes n ON n.name = i.node"
                        + " WHERE i.image = ? AND i.state IN (" + SHARING_STATES + ") AND n.peer_url IS NOT NULL"
                        + " AND n.state <> 'offline' ORDER BY n.name FETCH FIRST " + limit + " ROWS ONLY")) {
            ps.setString(1, image);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    // Local: complete, even if a cache smaller than the image evicted a few chunks since (the cached
                    // report then drops it). Ranked first, it still holds nearly all; ranked by hash among the rest, the
                    // members above it would fetch from the store what it holds (the s3 demo: 42% from peers, not 66%).
                    boolean whole = InstanceState.fromWire(rs.getString(4)).holdsWholeImage();
                    out.add(new Holder(rs.getString(1), rs.getString(2), rs.getString(3), whole));
                }
            }
        }
        return out;
    }
}
