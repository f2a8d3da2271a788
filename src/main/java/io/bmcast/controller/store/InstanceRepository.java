package io.bmcast.controller.store;

import io.bmcast.fleet.ByteSources;
import io.bmcast.fleet.InstanceState;
import io.bmcast.fleet.NodeState;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The instances table. Every state change is conditional on the state the caller read. */
public final class InstanceRepository {
    private final Database.Dialect dialect;

    public InstanceRepository(Database.Dialect dialect) {
        this.dialect = dialect;
    }

    private static final String SELECT = "SELECT i.id, i.project, i.image, i.node, i.state, i.reason, i.bytes_on_demand,"
            + " i.bytes_background, i.fraction_local, i.created_at, i.updated_at, n.state,"
            + " i.bytes_from_cache, i.bytes_from_peers, i.bytes_from_store, i.chunks_verified, i.chunks_rejected"
            + " FROM instances i LEFT JOIN nodes n ON n.name = i.node";

    /**
     * Inserts a pending instance of {@code image}; false when the image does not exist (it was removed since
     * the caller looked it up), and then nothing was inserted. A removal that commits while this insert is under
     * way makes one of the two fail on the {@code image_ref} foreign key (the database decides which):
     * {@link StoreException#isForeignKey()}.
     */
    public boolean insertPending(Tx tx, String id, String project, String image, long nowMs) throws SQLException {
        if (dialect == Database.Dialect.H2) {
            // H2 checks a foreign key without locking the parent row, so a removal that does not see this uncommitted
            // insert could commit beside it (ImageRemovalRaceTest showed it). Locking the image row here makes the
            // removal wait for this transaction, and its own key check then sees the instance. It also makes launches
            // of one image take turns on H2 for the length of their insert; PostgreSQL's key check takes a shared
            // lock that launches do not contend on, so it needs none.
            try (PreparedStatement ps = tx.connection().prepareStatement("SELECT name FROM images WHERE name = ? FOR UPDATE")) {
                ps.setString(1, image);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return false;
                }
            }
        }
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO instances (id, project, image, image_ref, node, state, reason, bytes_on_demand, bytes_background,"
                        + " fraction_local, created_at, updated_at)"
                        + " SELECT ?, ?, name, name, NULL, 'pending', NULL, 0, 0, 0, ?, ? FROM images WHERE name = ?")) {
            ps.setString(1, id);
            ps.setString(2, project);
            ps.setLong(3, nowMs);
            ps.setLong(4, nowMs);
            ps.setString(5, image);
            return ps.executeUpdate() == 1;
        }
    }

    public Optional<InstanceRow> find(Tx tx, String id) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(SELECT + " WHERE i.id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(row(rs)) : Optional.empty();
            }
        }
    }

    /** Instances of {@code project} (every project's when null), oldest first; deleted ones only when asked. */
    public List<InstanceRow> list(Tx tx, String project, boolean withDeleted) throws SQLException {
        StringBuilder sql = new StringBuilder(SELECT).append(" WHERE 1 = 1");
        if (project != null) sql.append(" AND i.project = ?");
        if (!withDeleted) sql.append(" AND i.state <> 'deleted'");
        sql.append(" ORDER BY i.created_at, i.id");
        try (PreparedStatement ps = tx.connection().prepareStatement(sql.toString())) {
            if (project != null) ps.setString(1, project);
            List<InstanceRow> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(row(rs));
            }
            return out;
        }
    }

    /** The oldest pending instances, at most {@code limit}, each with its image's size. */
    public List<PendingInstance> pending(Tx tx, int limit) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT i.id, i.project, i.image, m.size_bytes FROM instances i JOIN images m ON m.name = i.image"
                        + " WHERE i.state = 'pending' ORDER BY i.created_at, i.id FETCH FIRST " + limit + " ROWS ONLY")) {
            List<PendingInstance> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(new PendingInstance(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4)));
            }
            return out;
        }
    }

    /** A pending instance and the disk it needs. */
    public record PendingInstance(String id, String project, String image, long sizeBytes) {}

    /**
     * Moves {@code id} from {@code from} to {@code to} (setting {@code reason}); false when it was no longer in
     * {@code from}. The caller has checked the transition against {@link InstanceState}.
     */
    public boolean move(Tx tx, String id, InstanceState from, InstanceState to, String reason, long nowMs) throws SQLException {
        // A deleted instance lets go of its image (image_ref), so the image may be removed; its name stays in image.
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE instances SET state = ?, reason = COALESCE(?, reason), updated_at = ?"
                        + (to == InstanceState.DELETED ? ", image_ref = NULL" : "") + " WHERE id = ? AND state = ?")) {
            ps.setString(1, to.wire());
            ps.setString(2, reason);
            ps.setLong(3, nowMs);
            ps.setString(4, id);
            ps.setString(5, from.wire());
            return ps.executeUpdate() == 1;
        }
    }

    /** Sets the reason of an instance still in {@code state} (no state change); false when it moved meanwhile. */
    public boolean note(Tx tx, String id, InstanceState state, String reason) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE instances SET reason = ? WHERE id = ? AND state = ?")) {
            ps.setString(1, reason);
            ps.setString(2, id);
            ps.setString(3, state.wire());
            return ps.executeUpdate() == 1;
        }
    }

    /** Instances in {@code state} since before {@code enteredBeforeMs} (their last change), oldest first, at most {@code limit}. */
    public List<InstanceRow> overdue(Tx tx, InstanceState state, long enteredBeforeMs, int limit) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(SELECT + " WHERE i.state = ? AND i.updated_at < ?"
                + " ORDER BY i.updated_at, i.id FETCH FIRST " + limit + " ROWS ONLY")) {
            ps.setString(1, state.wire());
            ps.setLong(2, enteredBeforeMs);
            List<InstanceRow> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) out.add(row(rs));
            }
            return out;
        }
    }

    /** {@code pending -> scheduled} on {@code node}; false when it was no longer pending. */
    public boolean schedule(Tx tx, String id, String node, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE instances SET state = 'scheduled', node = ?, updated_at = ? WHERE id = ? AND state = 'pending'")) {
            ps.setString(1, node);
            ps.setLong(2, nowMs);
            ps.setString(3, id);
            return ps.executeUpdate() == 1;
        }
    }

    /** One instance's progress as agents report it: bytes fetched on demand and in the background, fraction local. */
    public record Progress(long bytesOnDemand, long bytesBackground, double fractionLocal, ByteSources sources) {}

    /** Stores the progress agents reported (no state change), many instances in one batch. */
    public void progress(Tx tx, java.util.Map<String, Progress> byInstance) throws SQLException {
        if (byInstance.isEmpty()) return;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "UPDATE instances SET bytes_on_demand = ?, bytes_background = ?, fraction_local = ?, bytes_from_cache = ?,"
                        + " bytes_from_peers = ?, bytes_from_store = ?, chunks_verified = ?, chunks_rejected = ? WHERE id = ?")) {
            for (var e : byInstance.entrySet()) {
                ByteSources src = e.getValue().sources();
                ps.setLong(1, e.getValue().bytesOnDemand());
                ps.setLong(2, e.getValue().bytesBackground());
                ps.setDouble(3, e.getValue().fractionLocal());
                ps.setLong(4, src.bytesFromCache());
                ps.setLong(5, src.bytesFromPeers());
                ps.setLong(6, src.bytesFromStore());
                ps.setLong(7, src.chunksVerified());
                ps.setLong(8, src.chunksRejected());
                ps.setString(9, e.getKey());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /**
     * Instances by the state the API shows: an instance holding a node that is offline counts as
     * {@code unknown}. Deleted ones are not counted. Only {@code project}'s when it is not null.
     */
    public Map<InstanceState, Integer> countByShownState(Tx tx, String project) throws SQLException {
        Map<InstanceState, Integer> counts = new EnumMap<>(InstanceState.class);
        for (InstanceState s : InstanceState.values()) if (s != InstanceState.DELETED) counts.put(s, 0);
        String sql = "SELECT i.state, n.state, COUNT(*) FROM instances i LEFT JOIN nodes n ON n.name = i.node"
                + " WHERE i.state <> 'deleted'" + (project != null ? " AND i.project = ?" : "") + " GROUP BY i.state, n.state";
        try (PreparedStatement ps = tx.connection().prepareStatement(sql)) {
            if (project != null) ps.setString(1, project);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    InstanceState s = InstanceState.fromWire(rs.getString(1));
                    String nodeState = rs.getString(2);
                    if (s.holdsNode() && NodeState.OFFLINE.wire().equals(nodeState)) s = InstanceState.UNKNOWN;
                    counts.merge(s, rs.getInt(3), Integer::sum);
                }
            }
        }
        return counts;
    }

    /** How many instances of {@code image} are not deleted. */
    public int liveUsing(Tx tx, String image) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT COUNT(*) FROM instances WHERE image = ? AND state <> 'deleted'")) {
            ps.setString(1, image);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static InstanceRow row(ResultSet rs) throws SQLException {
        String nodeState = rs.getString(12);
        return new InstanceRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                InstanceState.fromWire(rs.getString(5)), rs.getString(6), rs.getLong(7), rs.getLong(8), rs.getDouble(9),
                rs.getLong(10), rs.getLong(11), nodeState == null ? null : NodeState.fromWire(nodeState),
                new ByteSources(rs.getLong(13), rs.getLong(14), rs.getLong(15), rs.getLong(16), rs.getLong(17)));
    }
}
