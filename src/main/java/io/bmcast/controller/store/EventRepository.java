package io.bmcast.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/** The append-only event table. */
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
        String sql = "SELECT id FROM events" + (project != null ? " WHERE project = ?" : "")
                + " ORDER BY id DESC FETCH FIRST " + limit + " ROWS ONLY";
        long lowest = Long.MAX_VALUE;
        try (PreparedStatement ps = tx.connection().prepareStatement(sql)) {
            if (project != null) ps.setString(1, project);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) lowest = Math.min(lowest, rs.getLong(1));
            }
        }
        return lowest == Long.MAX_VALUE ? List.of() : after(tx, lowest - 1, limit, project);
    }

    static String clip(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
