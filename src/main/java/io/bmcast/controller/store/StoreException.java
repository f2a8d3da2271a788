package io.bmcast.controller.store;

/** The database failed (not a refused transition: those are answered, not thrown). */
public final class StoreException extends RuntimeException {
    private final boolean transientFailure;

    public StoreException(String message, Throwable cause) {
        super(message, cause);
        this.transientFailure = cause instanceof java.sql.SQLException e && isTransient(e);
    }

    /** The work inserted a key that another insert had taken first. */
    public boolean isDuplicateKey() {
        return getCause() instanceof java.sql.SQLException e && isDuplicateKey(e);
    }

    /** The work broke a foreign key: it referred to a row that is gone, or removed one still referred to. */
    public boolean isForeignKey() {
        return getCause() instanceof java.sql.SQLException e && isForeignKey(e);
    }

    /**
     * The statement was refused for a value (SQLState class 22, data exception: too long for its column, out of
     * range): the request carried it, as input validation should have caught, not the database failing.
     */
    public boolean isBadValue() {
        return getCause() instanceof java.sql.SQLException e && e.getSQLState() != null && e.getSQLState().startsWith("22");
    }

    /** A lock wait timed out or a deadlock was broken: trying the same work again may succeed. */
    public boolean isTransient() {
        return transientFailure;
    }

    /** 40001/40P01: serialization failure or deadlock; 50200: H2's lock timeout; 55P03: lock not available. */
    private static boolean isTransient(java.sql.SQLException e) {
        String state = e.getSQLState();
        return "40001".equals(state) || "40P01".equals(state) || "50200".equals(state) || "55P03".equals(state);
    }

    /** SQLState 23503 (PostgreSQL, and H2 for a removed parent), 23506 (H2 for a missing parent). */
    static boolean isForeignKey(java.sql.SQLException e) {
        return "23503".equals(e.getSQLState()) || "23506".equals(e.getSQLState());
    }

    /** SQLState 23505: a row with this key exists already (H2 and PostgreSQL agree on the code). */
    static boolean isDuplicateKey(java.sql.SQLException e) {
        return "23505".equals(e.getSQLState());
    }
}
