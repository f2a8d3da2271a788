package io.bmcast.controller;

import io.bmcast.controller.store.EventRow;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Fans committed events out to live subscribers (the SSE streams). Publishing never blocks: each subscriber
 * has its own unbounded queue, and a subscriber that falls far behind is dropped (its client reconnects
 * and resumes from the database with Last-Event-ID).
 */
public final class EventStreams {
    /** More queued events than this and the subscriber is cut off rather than allowed to grow without bound. */
    static final int MAX_BACKLOG = 10_000;

    private final CopyOnWriteArraySet<Subscription> subscribers = new CopyOnWriteArraySet<>();
    /** Open streams by holder (a token's hash): {@code compute} on one key keeps its count and its cap in step. */
    private final ConcurrentHashMap<String, Integer> open = new ConcurrentHashMap<>();

    /** Put in a revoked subscriber's queue to wake its reader at once; never sent. */
    private static final EventRow WAKE = new EventRow(-1, 0, "", null, null, null, null);

    /** One live stream; only events of {@code project} when it is not null. */
    public final class Subscription implements AutoCloseable {
        private final String project;
        private final Credential credential;
        private final String holder;
        private final LinkedBlockingQueue<EventRow> queue = new LinkedBlockingQueue<>();
        private final AtomicBoolean closed = new AtomicBoolean();
        private volatile boolean overflowed;
        private volatile boolean revoked;

        Subscription(String project, Credential credential, String holder) {
            this.project = project;
            this.credential = credential;
            this.holder = holder;
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
            if (!closed.compareAndSet(false, true)) return;
            subscribers.remove(this);
            open.computeIfPresent(holder, (k, n) -> n <= 1 ? null : n - 1);
        }
    }

    /**
     * {@code credential}: the token the client showed (null for none), whose revocation ends the stream;
     * {@code holder}: who holds the stream (the token's hash), at most {@code max} open at once: one more is refused
     * (429) rather than each costing a thread and a queue without bound.
     */
    public Subscription subscribe(String project, Credential credential, String holder, int max) {
        open.compute(holder, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= max) throw new ControllerException(ControllerException.Kind.TOO_MANY, "this token has " + now
                    + " event streams open already, the most it may hold; close one first");
            return now + 1;
        });
        Subscription s = new Subscription(project, credential, holder);
        subscribers.add(s);
        return s;
    }

    /** Live streams open now. */
    public int size() {
        return subscribers.size();
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
