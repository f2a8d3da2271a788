package io.bmcast.controller;

import io.bmcast.controller.store.EventRow;
import java.util.concurrent.ConcurrentHashMap;
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
    /** Open streams by holder (a token's hash): {@code compute} on one key keeps its count and its cap in step. */
    private final ConcurrentHashMap<String, Integer> open = new ConcurrentHashMap<>();

    /** One live stream; only events of {@code project} when it is not null. */
    public final class Subscription implements AutoCloseable {
        private final String project;
        private final String holder;
        private final LinkedBlockingQueue<EventRow> queue = new LinkedBlockingQueue<>();
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        private volatile boolean overflowed;

        Subscription(String project, String holder) {
            this.project = project;
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

        /** The next event, or null after {@code timeoutMs} without one. */
        public EventRow next(long timeoutMs) throws InterruptedException {
            return queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
        }

        public boolean overflowed() {
            return overflowed;
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) return;
            subscribers.remove(this);
            open.computeIfPresent(holder, (k, n) -> n <= 1 ? null : n - 1);
        }
    }

    /**
     * A new stream for {@code holder} (who holds it: a token's hash), at most {@code max} open per holder: one more is
     * refused (429) rather than each costing a thread and a queue without bound.
     */
    public Subscription subscribe(String project, String holder, int max) {
        open.compute(holder, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= max) throw new ControllerException(ControllerException.Kind.TOO_MANY, "this token has " + now
                    + " event streams open already, the most it may hold; close one first");
            return now + 1;
        });
        Subscription s = new Subscription(project, holder);
        subscribers.add(s);
        return s;
    }

    /** Live streams open now. */
    public int size() {
        return subscribers.size();
    }

    public void publish(EventRow e) {
        for (Subscription s : subscribers) s.offer(e);
    }
}
