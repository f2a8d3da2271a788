package io.bmcast.controller;

import io.bmcast.controller.store.EventRow;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Fans committed events out to live subscribers (the SSE streams). Publishing never blocks: each subscriber
 * has its own unbounded queue, and a subscriber that falls far behind is dropped (its client reconnects
 * and resumes from the database with Last-Event-ID).
 */
public final class EventStreams {
    /** More queued events than this and the subscriber is cut off rather than allowed to grow without bound. */
    static final int MAX_BACKLOG = 10_000;

    private final CopyOnWriteArraySet<Subscription> subscribers = new CopyOnWriteArraySet<>();

    /** Put in a revoked subscriber's queue to wake its reader at once; never sent. */
    private static final EventRow WAKE = new EventRow(-1, 0, "", null, null, null, null);

    /** One live stream; only events of {@code project} when it is not null. */
    public final class Subscription implements AutoCloseable {
        private final String project;
        private final Credential credential;
        private final LinkedBlockingQueue<EventRow> queue = new LinkedBlockingQueue<>();
        private volatile boolean overflowed;
        private volatile boolean revoked;

        Subscription(String project, Credential credential) {
            this.project = project;
            this.credential = credential;
        }

        void offer(EventRow e) {
            if (project != null && !project.equals(e.project())) return;
            if (queue.size() >= MAX_BACKLOG) {
                overflowed = true;
                close();
                return;
            }
            queue.add(e);
        }

        /** The next event, or null after {@code timeoutMs} without one, or once the token is revoked. */
        public EventRow next(long timeoutMs) throws InterruptedException {
            EventRow e = queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
            return e == WAKE || revoked ? null : e;
        }

        public boolean overflowed() {
            return overflowed;
        }

        /** The token it was opened with has been revoked: the stream must end now. */
        public boolean revoked() {
            return revoked;
        }

        @Override
        public void close() {
            subscribers.remove(this);
        }
    }

    /** {@code credential}: the token the client showed (null for none), whose revocation ends the stream. */
    public Subscription subscribe(String project, Credential credential) {
        Subscription s = new Subscription(project, credential);
        subscribers.add(s);
        return s;
    }

    /** Ends every stream opened with token {@code tokenId} or a session made from it. */
    public void revoke(String tokenId) {
        for (Subscription s : subscribers) {
            if (s.credential != null && s.credential.revokedWith(tokenId)) {
                s.revoked = true;
                s.close();
                s.queue.add(WAKE);
            }
        }
    }

    public void publish(EventRow e) {
        for (Subscription s : subscribers) s.offer(e);
    }
}
