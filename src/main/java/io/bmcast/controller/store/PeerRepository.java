package io.bmcast.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The tracker's tables: the fleet's peer token, where each node serves its chunk cache (and its zone), and which
 * images each node's cache holds. What the tracker asks is one query: {@link #holders}.
 */
public final class PeerRepository {
    /** The instance states in which a node is streaming or holds its instance's image: such a node serves its chunks. */
    private static final String HOLDING_STATES = "'streaming', 'devirtualized', 'stopped'";

    /**
     * A node that may serve an image's chunks.
     *
     * @param complete its cache holds the whole image (it reported it cached, or its instance of it is local);
     *                 false: it is streaming the image now
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

    /** The zone the node registered with; empty when it has none (or is not registered). */
    public Optional<String> zone(Tx tx, String node) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT zone FROM nodes WHERE name = ?")) {
            ps.setString(1, node);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getString(1)) : Optional.empty();
            }
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
     * Nodes other than {@code except} that serve peers, are not offline, and hold {@code image}'s chunks: in their
     * cache (reported), or in the instance of it they stream or run now. At most {@code limit} rows per kind, in no
     * particular order: the caller orders them (zone, complete first) and shuffles equals.
     */
    public List<Holder> holders(Tx tx, String image, String except, int limit) throws SQLException {
        List<Holder> out = new ArrayList<>();
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT n.name, n.peer_url, n.zone FROM node_cached_images c JOIN nodes n ON n.name = c.node"
                        + " WHERE c.image = ? AND n.name <> ? AND n.peer_url IS NOT NULL AND n.state <> 'offline'"
                        + " ORDER BY c.reported_at DESC FETCH FIRST " + limit + " ROWS ONLY")) {
            ps.setString(1, image);
            ps.setString(2, except);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(new Holder(rs.getString(1), rs.getString(2), rs.getString(3), true));
            }
        }
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT n.name, n.peer_url, n.zone, i.state FROM instances i JOIN nodes n ON n.name = i.node"
                        + " WHERE i.image = ? AND i.state IN (" + HOLDING_STATES + ") AND n.name <> ? AND n.peer_url IS NOT NULL"
                        + " AND n.state <> 'offline' ORDER BY i.updated_at DESC FETCH FIRST " + limit + " ROWS ONLY")) {
            ps.setString(1, image);
            ps.setString(2, except);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    boolean local = !"streaming".equals(rs.getString(4));
                    out.add(new Holder(rs.getString(1), rs.getString(2), rs.getString(3), local));
                }
            }
        }
        return out;
    }
}
