package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.EventRow;
import io.bmcast.fleet.Api;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;

/** The event log as clients read it: pages from the database, and a live stream that resumes where it left. */
public final class EventFeed {
    public static final int MAX_PAGE = 1000;

    private final Database db;
    private final EventRepository events;
    private final EventStreams streams;
    private final LongSupplier clockMs;

    EventFeed(Database db, EventRepository events, EventStreams streams, LongSupplier clockMs) {
        this.db = db;
        this.events = events;
        this.streams = streams;
        this.clockMs = clockMs;
    }

    /** Events after {@code afterId} (the newest {@code limit} when {@code afterId} is negative), oldest first. */
    public List<Api.Event> page(Principal who, long afterId, int limit) {
        int n = Math.max(1, Math.min(MAX_PAGE, limit));
        List<EventRow> rows = db.read(tx -> afterId < 0 ? events.latest(tx, n, who.projectFilter())
                : events.after(tx, afterId, n, who.projectFilter()));
        return rows.stream().map(Views::event).toList();
    }

    /** A live stream for one client. */
    public interface Follower {
        /** Sends one event; false when the client is gone. */
        boolean send(Api.Event e);

        /** Nothing happened for a while: false when the client is gone. */
        boolean idle();
    }

    /**
     * Streams events after {@code lastEventId} to {@code to} until the client goes away. It subscribes before
     * it reads the backlog, so nothing committed in between is missed, and skips what the backlog already sent.
     * (Ids are assigned at insert, and on PostgreSQL a transaction that took an id may commit after one
     * that took a later id: a client that resumes in that instant can miss that one event; the live stream
     * itself does not.) The stream ends at once when {@code credential}'s token is revoked, and when it
     * expires (the wait for the next event never outlasts the token).
     */
    public void follow(Principal who, Credential credential, long lastEventId, Follower to, long idleMs) throws InterruptedException {
        try (EventStreams.Subscription live = streams.subscribe(who.projectFilter(), credential)) {
            Set<Long> sent = new HashSet<>();
            long after = lastEventId;
            if (after >= 0) {
                while (true) {
                    List<EventRow> backlog = db.read(tx -> events.after(tx, sentAfter(sent, lastEventId), MAX_PAGE, who.projectFilter()));
                    for (EventRow e : backlog) {
                        if (!to.send(Views.event(e))) return;
                        sent.add(e.id());
                    }
                    if (backlog.size() < MAX_PAGE) break;
                }
            }
            while (!live.overflowed()) {
                long now = clockMs.getAsLong();
                if (live.revoked() || credential != null && credential.expired(now)) return;
                long wait = credential == null ? idleMs : Math.max(1, Math.min(idleMs, credential.expiresAtMs() - now));
                EventRow e = live.next(wait);
                if (live.revoked() || credential != null && credential.expired(clockMs.getAsLong())) return;
                if (e == null) {
                    if (!to.idle()) return;
                } else if (e.id() > after && !sent.contains(e.id())) {
                    if (!to.send(Views.event(e))) return;
                }
            }
        }
    }

    private static long sentAfter(Set<Long> sent, long from) {
        long max = from;
        for (long id : sent) max = Math.max(max, id);
        return max;
    }
}
