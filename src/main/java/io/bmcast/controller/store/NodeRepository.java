package io.bmcast.controller.store;

import io.bmcast.fleet.NodeState;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;

/** The nodes table: registration, conditional state changes, and claims. */
public final class NodeRepository {
    private static final String COLUMNS =
            "name, state, disk_bytes, memory_bytes, cpus, accel, simulated, instance_id, registered_at, updated_at, maintenance, must_scrub";
    /** Besides {@code available}: what makes a node one a tenant may be given (the operator's flags are off). */
    private static final String OFFERABLE = "maintenance = FALSE AND must_scrub = FALSE";
    /** How many free nodes one claim attempt considers before it reads the list again. */
    private static final int CLAIM_CANDIDATES = 32;

    private final Database.Dialect dialect;

    public NodeRepository(Database.Dialect dialect) {
        this.dialect = dialect;
    }

    /**
     * Inserts a new node in {@code state}, owned by the credential whose SHA-256 is {@code credentialHash}; false
     * when the name is taken (then nothing changed). Auto-commit only.
     */
    public boolean insert(Tx tx, NodeRow n, String credentialHash) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("INSERT INTO nodes (" + COLUMNS
                + ", credential_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, n.name());
            ps.setString(2, n.state().wire());
            ps.setLong(3, n.diskBytes());
            ps.setLong(4, n.memoryBytes());
            ps.setInt(5, n.cpus());
            ps.setString(6, n.accel());
            ps.setBoolean(7, n.simulated());
            ps.setString(8, n.instanceId());
            ps.setLong(9, n.registeredAt());
            ps.setLong(10, n.updatedAt());
            ps.setBoolean(11, n.maintenance());
            ps.setBoolean(12, n.mustScrub());
            ps.setString(13, credentialHash);
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            if (StoreException.isDuplicateKey(e)) return false;
            throw e;
        }
    }

    /** A re-registering machine may have changed (a bigger disk, more memory); its state stays. */
    public void updateHardware(Tx tx, String name, long diskBytes, long memoryBytes, int cpus, String accel,
            boolean simulated, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET disk_bytes = ?, memory_bytes = ?, cpus = ?, accel = ?, simulated = ?, updated_at = ? WHERE name = ?")) {
            ps.setLong(1, diskBytes);
            ps.setLong(2, memoryBytes);
            ps.setInt(3, cpus);
            ps.setString(4, accel);
            ps.setBoolean(5, simulated);
            ps.setLong(6, nowMs);
            ps.setString(7, name);
            ps.executeUpdate();
        }
    }

    /** The node's credential hash and last applied report; empty when no node has this name. */
    public Optional<NodeIdentity> identity(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT credential_hash, last_seq FROM nodes WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new NodeIdentity(name, rs.getString(1), rs.getLong(2))) : Optional.empty();
            }
        }
    }

    /**
     * Gives an unclaimed node (one carried over from before credentials, {@code credential_hash} NULL) its
     * credential; false when it has one already (another agent claimed it first).
     */
    public boolean claimUnowned(Tx tx, String name, String credentialHash) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET credential_hash = ? WHERE name = ? AND credential_hash IS NULL")) {
            ps.setString(1, credentialHash);
            ps.setString(2, name);
            return ps.executeUpdate() == 1;
        }
    }

    /**
     * Raises the node's stored {@code last_seq} to {@code seq}, never lowering it, and only while its credential is
     * still {@code credentialHash} (a node removed and registered again meanwhile keeps its new sequence); false when
     * nothing changed.
     */
    public boolean advanceSeq(Tx tx, String name, String credentialHash, long seq) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET last_seq = ? WHERE name = ? AND credential_hash = ? AND last_seq < ?")) {
            ps.setLong(1, seq);
            ps.setString(2, name);
            ps.setString(3, credentialHash);
            ps.setLong(4, seq);
            return ps.executeUpdate() == 1;
        }
    }

    public Optional<NodeRow> find(Tx tx, String name) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + COLUMNS + " FROM nodes WHERE name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(row(rs)) : Optional.empty();
            }
        }
    }

    public List<NodeRow> list(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + COLUMNS + " FROM nodes ORDER BY name");
             ResultSet rs = ps.executeQuery()) {
            List<NodeRow> out = new ArrayList<>();
            while (rs.next()) out.add(row(rs));
            return out;
        }
    }

    /**
     * Moves {@code name} from {@code from} to {@code to} and sets its instance; false when the row was not in
     * {@code from} (someone else moved it first). The caller has checked the transition against {@link NodeState}.
     */
    public boolean move(Tx tx, String name, NodeState from, NodeState to, String instanceId, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET state = ?, instance_id = ?, updated_at = ? WHERE name = ? AND state = ?")) {
            ps.setString(1, to.wire());
            ps.setString(2, instanceId);
            ps.setLong(3, nowMs);
            ps.setString(4, name);
            ps.setString(5, from.wire());
            return ps.executeUpdate() == 1;
        }
    }

    /** As {@link #move}, and only while the node still holds {@code holder}. */
    public boolean moveHolding(Tx tx, String name, String holder, NodeState from, NodeState to, String instanceId,
            long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET state = ?, instance_id = ?, updated_at = ? WHERE name = ? AND state = ? AND instance_id = ?")) {
            ps.setString(1, to.wire());
            ps.setString(2, instanceId);
            ps.setLong(3, nowMs);
            ps.setString(4, name);
            ps.setString(5, from.wire());
            ps.setString(6, holder);
            return ps.executeUpdate() == 1;
        }
    }

    /**
     * Claims a free node with at least {@code minDiskBytes} for {@code instanceId}: the node goes
     * {@code available -> busy} inside {@code tx}, so a rollback gives it back. Empty when none is free.
     *
     * <p>No lock on the table and no scheduler thread. On PostgreSQL {@code FOR UPDATE SKIP LOCKED} hands each
     * concurrent claimer a different row. It may also hand one nothing while free rows exist (every row its
     * snapshot saw free was locked by other claimers at that instant), so an empty answer falls back to the
     * read-then-update loop below before it counts as "no node". H2 2.3 parses SKIP LOCKED but applies the row
     * limit before skipping (a second claimer gets no row at all), so there the loop is all there is: read a
     * few candidates without locks and take the first one whose conditional update wins, starting at a random
     * one so that concurrent claimers spread out. Both end in the same {@code UPDATE ... WHERE state =
     * 'available'} (and no operator flag), which is what makes a node go to exactly one instance.
     */
    public Optional<String> claim(Tx tx, String instanceId, long minDiskBytes, long nowMs) throws SQLException {
        if (dialect == Database.Dialect.POSTGRESQL) {
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "SELECT name FROM nodes WHERE state = 'available' AND " + OFFERABLE + " AND disk_bytes >= ? ORDER BY name LIMIT 1 FOR UPDATE SKIP LOCKED")) {
                ps.setLong(1, minDiskBytes);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        String name = rs.getString(1);
                        if (take(tx, name, instanceId, nowMs)) return Optional.of(name);
                    }
                }
            }
        }
        while (true) {
            List<String> candidates = new ArrayList<>();
            try (PreparedStatement ps = tx.connection().prepareStatement(
                    "SELECT name FROM nodes WHERE state = 'available' AND " + OFFERABLE + " AND disk_bytes >= ? ORDER BY name FETCH FIRST "
                            + CLAIM_CANDIDATES + " ROWS ONLY")) {
                ps.setLong(1, minDiskBytes);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) candidates.add(rs.getString(1));
                }
            }
            if (candidates.isEmpty()) return Optional.empty();
            int start = ThreadLocalRandom.current().nextInt(candidates.size());
            for (int i = 0; i < candidates.size(); i++) {
                String name = candidates.get((start + i) % candidates.size());
                if (take(tx, name, instanceId, nowMs)) return Optional.of(name);
            }
            // every candidate went to someone else between the read and the update: read again
        }
    }

    /**
     * Forgets a node (the operator's {@code node rm}): its row, and so its credential and flags; only while it still
     * holds {@code holder} (null: nothing). False when absent or changed.
     */
    public boolean deleteIf(Tx tx, String name, String holder) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM nodes WHERE name = ? AND "
                + (holder == null ? "instance_id IS NULL" : "instance_id = ?"))) {
            ps.setString(1, name);
            if (holder != null) ps.setString(2, holder);
            return ps.executeUpdate() == 1;
        }
    }

    /** Sets the maintenance flag; false when the node does not exist. */
    public boolean maintenance(Tx tx, String name, boolean on, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE nodes SET maintenance = ?, updated_at = ? WHERE name = ?")) {
            ps.setBoolean(1, on);
            ps.setLong(2, nowMs);
            ps.setString(3, name);
            return ps.executeUpdate() == 1;
        }
    }

    /**
     * Marks the node as owing a verified scrub, lets go of {@code holder} (null: it held nothing) and moves it from
     * {@code from} to {@code to}; false when the row was no longer so (someone else moved it first).
     */
    public boolean requireScrub(Tx tx, String name, NodeState from, String holder, NodeState to, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET must_scrub = TRUE, state = ?, instance_id = NULL, updated_at = ? WHERE name = ? AND state = ? AND "
                        + (holder == null ? "instance_id IS NULL" : "instance_id = ?"))) {
            ps.setString(1, to.wire());
            ps.setLong(2, nowMs);
            ps.setString(3, name);
            ps.setString(4, from.wire());
            if (holder != null) ps.setString(5, holder);
            return ps.executeUpdate() == 1;
        }
    }

    /** The agent has begun the scrub it owed (it reports a disk not clean): its next clean report proves it. */
    public boolean scrubBegun(Tx tx, String name, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET must_scrub = FALSE, updated_at = ? WHERE name = ? AND must_scrub = TRUE")) {
            ps.setLong(1, nowMs);
            ps.setString(2, name);
            return ps.executeUpdate() == 1;
        }
    }

    /** {@code available -> busy} for {@code instanceId}, only while the node is still one a tenant may be given. */
    private static boolean take(Tx tx, String name, String instanceId, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE nodes SET state = 'busy', instance_id = ?, updated_at = ? WHERE name = ? AND state = 'available' AND " + OFFERABLE)) {
            ps.setString(1, instanceId);
            ps.setLong(2, nowMs);
            ps.setString(3, name);
            return ps.executeUpdate() == 1;
        }
    }

    /** The largest disk of any registered node; empty when none is registered. */
    public OptionalLong largestDisk(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT MAX(disk_bytes), COUNT(*) FROM nodes");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(2) == 0 ? OptionalLong.empty() : OptionalLong.of(rs.getLong(1));
        }
    }

    public Map<NodeState, Integer> countByState(Tx tx) throws SQLException {
        Map<NodeState, Integer> counts = new EnumMap<>(NodeState.class);
        for (NodeState s : NodeState.values()) counts.put(s, 0);
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT state, COUNT(*) FROM nodes GROUP BY state");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) counts.put(NodeState.fromWire(rs.getString(1)), rs.getInt(2));
        }
        return counts;
    }

    private static NodeRow row(ResultSet rs) throws SQLException {
        return new NodeRow(rs.getString(1), NodeState.fromWire(rs.getString(2)), rs.getLong(3), rs.getLong(4), rs.getInt(5),
                rs.getString(6), rs.getBoolean(7), rs.getString(8), rs.getLong(9), rs.getLong(10), rs.getBoolean(11), rs.getBoolean(12));
    }
}
