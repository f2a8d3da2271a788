package io.bmcast.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/** The append-only event table: rows are inserted, never updated, and pruned from the oldest end. */
public final class EventRepository {
    private final LongSupplier clockMs;

    public EventRepository(LongSupplier clockMs) {
        this.clockMs = clockMs;
    }

    /** Appends {@code e} in {@code tx}; listeners hear of it once {@code tx} commits. */
    public EventRow append(Tx tx, NewEvent e) throws SQLException {
        long now = clockMs.getAsLong();
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO events (at_ms, type, project, instance_id, node, message) VALUES (?, ?, ?, ?, ?, ?)",
                Statement.RETURN_GENERATED_KEYS)) {
            ps.setLong(1, now);
            ps.setString(2, e.type());
            ps.setString(3, e.project());
            ps.setString(4, e.instanceId());
            ps.setString(5, e.node());
            ps.setString(6, clip(e.message(), 2048));
            ps.executeUpdate();
            try (ResultSet keys = ps.getGeneratedKeys()) {
                keys.next();
                EventRow row = new EventRow(keys.getLong(1), now, e.type(), e.project(), e.instanceId(), e.node(), clip(e.message(), 2048));
                tx.appended(row);
                return row;
            }
        }
    }

    /**
     * Events with an id above {@code afterId}, oldest first, at most {@code limit}; only {@code project}'s
     * when it is not null (events of no project, such as a node's, are the operator's alone).
     */
    public List<EventRow> after(Tx tx, long afterId, int limit, String project) throws SQLException {
        String sql = "SELECT id, at_ms, type, project, instance_id, node, message FROM events WHERE id > ?"
                + (project != null ? " AND project = ?" : "") + " ORDER BY id FETCH FIRST " + limit + " ROWS ONLY";
        try (PreparedStatement ps = tx.connection().prepareStatement(sql)) {
            ps.setLong(1, afterId);
            if (project != null) ps.setString(2, project);
            List<EventRow> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new EventRow(rs.getLong(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getString(5),
                            rs.getString(6), rs.getString(7)));
                }
            }
            return out;
        }
    }

    /** The newest {@code limit} events (of {@code project} when not null), oldest first. */
    public List<EventRow> latest(Tx tx, int limit, String project) throws SQLException {
        long lowest = lowestOfNewest(tx, limit, project);
        return lowest < 0 ? List.of() : after(tx, lowest - 1, limit, project);
    }

    /** The id of the oldest of the newest {@code limit} events (of {@code project} when not null); -1 when there are none. */
    public long lowestOfNewest(Tx tx, int limit, String project) throws SQLException {
        String sql = "SELECT id FROM events" + (project != null ? " WHERE project = ?" : "")
                + " ORDER BY id DESC FETCH FIRST " + limit + " ROWS ONLY";
        long lowest = Long.MAX_VALUE;
        try (PreparedStatement ps = tx.connection().prepareStatement(sql)) {
            if (project != null) ps.setString(1, project);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) lowest = Math.min(lowest, rs.getLong(1));
            }
        }
        return lowest == Long.MAX_VALUE ? -1 : lowest;
    }

    /** Rows deleted per statement when pruning: a large backlog goes in many short transactions, not one long one. */
    public static final int PRUNE_BATCH = 10_000;

    /** Deletes up to {@link #PRUNE_BATCH} of the events recorded before {@code beforeMs} (by the at_ms index). */
    public int pruneOlderThan(Tx tx, long beforeMs) throws SQLException {
        return prune(tx, "at_ms < ? ORDER BY at_ms", beforeMs);
    }

    /** Deletes up to {@link #PRUNE_BATCH} of the events whose id is at most {@code upToId} (by the primary key). */
    public int pruneUpTo(Tx tx, long upToId) throws SQLException {
        return prune(tx, "id <= ? ORDER BY id", upToId);
    }

    private static int prune(Tx tx, String where, long bound) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
                + where + " FETCH FIRST " + PRUNE_BATCH + " ROWS ONLY)")) {
            ps.setLong(1, bound);
            return ps.executeUpdate();
        }
    }

    /** The newest event's id (0 when there is none). */
    public long newestId(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT MAX(id) FROM events"); ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    /** The oldest event's id still kept (0 when there is none). */
    public long oldestId(Tx tx) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT MIN(id) FROM events"); ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    static String clip(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
