package io.bmcast.controller.store;

import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;

/** A borrowed connection (in a transaction or in auto-commit) and the events appended through it. */
public final class Tx {
    private final Connection connection;
    private final List<EventRow> appended = new ArrayList<>(2);

    Tx(Connection connection) {
        this.connection = connection;
    }

    Connection connection() {
        return connection;
    }

    void appended(EventRow e) {
        appended.add(e);
    }

    List<EventRow> appended() {
        return appended;
    }
}
