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

    /** One live stream; only events of {@code project} when it is not null. */
    public final class Subscription implements AutoCloseable {
        private final String project;
        private final LinkedBlockingQueue<EventRow> queue = new LinkedBlockingQueue<>();
        private volatile boolean overflowed;

        Subscription(String project) {
            this.project = project;
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
            subscribers.remove(this);
        }
    }

    public Subscription subscribe(String project) {
        Subscription s = new Subscription(project);
        subscribers.add(s);
        return s;
    }

    public void publish(EventRow e) {
        for (Subscription s : subscribers) s.offer(e);
    }
}
