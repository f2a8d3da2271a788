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
    private final int replayMax;
    private final int streamsPerToken;

    EventFeed(Database db, EventRepository events, EventStreams streams, Limits limits, LongSupplier clockMs) {
        this.db = db;
        this.events = events;
        this.streams = streams;
        this.replayMax = limits.replayMax();
        this.streamsPerToken = limits.streamsPerToken();
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
        /** The stream is accepted (the token's cap not reached): start the answer; false when the client is gone. */
        boolean open();

        /** Sends one event; false when the client is gone. */
        boolean send(Api.Event e);

        /** Nothing happened for a while: false when the client is gone. */
        boolean idle();
    }

    /**
     * Streams events after {@code lastEventId} to {@code to} until the client goes away; {@code holder} (the caller's
     * token, hashed) may hold at most the configured number of streams, and one more is refused before {@link
     * Follower#open}. It subscribes before it reads the backlog, so nothing committed in between is missed, and skips
     * what the backlog already sent. The backlog is the newest {@code replayMax} events at most, in pages: a client
     * further behind (or behind what retention pruned) is first sent one {@code events.skipped} event whose id is the
     * last one skipped and whose message says which ids were not sent and why.
     * (Ids are assigned at insert, and on PostgreSQL a transaction that took an id may commit after one
     * that took a later id: a client that resumes in that instant can miss that one event; the live stream
     * itself does not.) The stream ends at once when {@code credential}'s token is revoked, and when it
     * expires (the wait for the next event never outlasts the token).
     */
    public void follow(Principal who, Credential credential, String holder, long lastEventId, Follower to, long idleMs)
            throws InterruptedException {
        try (EventStreams.Subscription live = streams.subscribe(who.projectFilter(), credential, holder, streamsPerToken)) {
            if (!to.open()) return;
            // ids the backlog sent, to skip them when they come live too: at most the replay's size
            Set<Long> sent = new HashSet<>();
            long after = lastEventId;
            if (after >= 0) {
                long from = replayStart(who.projectFilter(), after);
                if (from > after) {
                    if (!to.send(Views.event(skipped(who.projectFilter(), after, from)))) return;
                    after = from;
                }
                long cursor = after;
                while (true) {
                    long at = cursor;
                    List<EventRow> backlog = db.read(tx -> events.after(tx, at, MAX_PAGE, who.projectFilter()));
                    for (EventRow e : backlog) {
                        if (!to.send(Views.event(e))) return;
                        sent.add(e.id());
                        cursor = Math.max(cursor, e.id());
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

    /**
     * The id after which a replay from {@code after} starts: {@code after} itself, or later when events after it were
     * pruned or are more than the replay sends.
     */
    private long replayStart(String project, long after) {
        return db.read(tx -> {
            long oldest = events.oldestId(tx);
            long start = oldest > after + 1 ? oldest - 1 : after;
            long tail = events.lowestOfNewest(tx, replayMax, project);
            if (tail - 1 > start) {
                List<EventRow> next = events.after(tx, start, 1, project);
                if (!next.isEmpty() && next.getFirst().id() < tail) start = tail - 1;
            }
            return start;
        });
    }

    private EventRow skipped(String project, long after, long upTo) {
        return new EventRow(upTo, clockMs.getAsLong(), "events.skipped", project, null, null, "events after id " + after + " up to id "
                + upTo + " are not replayed: the controller keeps events for a while (they may have been pruned) and a stream resumes"
                + " with at most the newest " + replayMax + "; GET /api/v1/events?after=" + after + " pages through what is kept");
    }
}
