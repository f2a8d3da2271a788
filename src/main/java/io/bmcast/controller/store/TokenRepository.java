package io.bmcast.controller.store;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/** Bearer tokens, stored as their hashes. */
public final class TokenRepository {

    /** A token's grant: {@code role} is operator, join or project; {@code project} is set for project tokens. */
    public record Grant(String role, String project) {}

    /** Stores {@code hash} unless it is there already (a restart re-adds the token files' hashes). */
    public void addIfAbsent(Tx tx, String hash, Grant grant, long nowMs) throws SQLException {
        if (find(tx, hash).isPresent()) return;
        try (PreparedStatement ps = tx.connection().prepareStatement(
                "INSERT INTO tokens (hash, role, project, created_at) VALUES (?, ?, ?, ?)")) {
            ps.setString(1, hash);
            ps.setString(2, grant.role());
            ps.setString(3, grant.project());
            ps.setLong(4, nowMs);
            ps.executeUpdate();
        } catch (SQLException e) {
            if (!StoreException.isDuplicateKey(e)) throw e;
        }
    }

    public Optional<Grant> find(Tx tx, String hash) throws SQLException {
        try (PreparedStatement ps = tx.connection().prepareStatement("SELECT role, project FROM tokens WHERE hash = ?")) {
            ps.setString(1, hash);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new Grant(rs.getString(1), rs.getString(2))) : Optional.empty();
            }
        }
    }
}
