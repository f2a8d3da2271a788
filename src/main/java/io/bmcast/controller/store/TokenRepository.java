package io.bmcast.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Bearer tokens, stored as their hashes, each with a public id. */
public final class TokenRepository {

    /**
     * A token's grant: {@code role} is operator, join or project; {@code project} is set for project tokens;
     * {@code kind} is api or session; {@code expiresAtMs} null for never; {@code parentId} the token a session
     * was made from.
     */
    public record Grant(String id, String role, String project, String kind, Long expiresAtMs, String parentId) {
        public static Grant api(String id, String role, String project, Long expiresAtMs) {
            return new Grant(id, role, project, "api", expiresAtMs, null);
        }
    }

    /** A stored token as {@code token ls} shows it: no secret, no hash. */
    public record Row(Grant grant, long createdAtMs) {}

    private static final String COLUMNS = "id, role, project, kind, expires_at, parent_id";

    /** Stores {@code hash} unless it is there already (a restart re-adds the token files' hashes). */
    public void addIfAbsent(Tx tx, String hash, Grant grant, long nowMs) throws SQLException {
        if (find(tx, hash).isPresent()) return;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO tokens (hash, created_at, " + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, hash);
            ps.setLong(2, nowMs);
            ps.setString(3, grant.id());
            ps.setString(4, grant.role());
            ps.setString(5, grant.project());
            ps.setString(6, grant.kind());
            if (grant.expiresAtMs() == null) ps.setNull(7, Types.BIGINT);
            else ps.setLong(7, grant.expiresAtMs());
            ps.setString(8, grant.parentId());
            ps.executeUpdate();
        } catch (SQLException e) {
            if (!StoreException.isDuplicateKey(e)) throw e;
        }
    }

    /** Gives {@code id} to the token of {@code hash} if it has none yet (rows from before ids); true if it did. */
    public boolean assignIdIfMissing(Tx tx, String hash, String id) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("UPDATE tokens SET id = ? WHERE hash = ? AND id IS NULL")) {
            ps.setString(1, id);
            ps.setString(2, hash);
            return ps.executeUpdate() == 1;
        }
    }

    /** Hashes of tokens without an id (stored before ids existed). */
    public List<String> hashesWithoutId(Tx tx) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT hash FROM tokens WHERE id IS NULL");
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out.add(rs.getString(1));
        }
        return out;
    }

    public Optional<Grant> find(Tx tx, String hash) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + COLUMNS + " FROM tokens WHERE hash = ?")) {
            ps.setString(1, hash);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(grant(rs)) : Optional.empty();
            }
        }
    }

    public Optional<Grant> findById(Tx tx, String id) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT " + COLUMNS + " FROM tokens WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(grant(rs)) : Optional.empty();
            }
        }
    }

    /** Every token, oldest first. */
    public List<Row> list(Tx tx) throws SQLException {
        List<Row> out = new ArrayList<>();
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "SELECT " + COLUMNS + ", created_at FROM tokens ORDER BY created_at, id");
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out.add(new Row(grant(rs), rs.getLong(7)));
        }
        return out;
    }

    /** Deletes the token {@code id} and the sessions made from it; the hashes deleted (empty: no such token). */
    public List<String> delete(Tx tx, String id) throws SQLException {
        List<String> hashes = new ArrayList<>();
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT hash FROM tokens WHERE id = ? OR parent_id = ?")) {
            ps.setString(1, id);
            ps.setString(2, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) hashes.add(rs.getString(1));
            }
        }
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM tokens WHERE id = ? OR parent_id = ?")) {
            ps.setString(1, id);
            ps.setString(2, id);
            ps.executeUpdate();
        }
        return hashes;
    }

    /** Deletes tokens that expired before {@code nowMs}; how many. */
    public int deleteExpired(Tx tx, long nowMs) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at < ?")) {
            ps.setLong(1, nowMs);
            return ps.executeUpdate();
        }
    }

    private static Grant grant(ResultSet rs) throws SQLException {
        long expires = rs.getLong(5);
        Long expiresAt = rs.wasNull() ? null : expires;
        return new Grant(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), expiresAt, rs.getString(6));
    }
}
