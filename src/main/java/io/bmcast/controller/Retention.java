package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.fleet.InstanceState;
import java.io.IOException;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The periodic sweep that keeps the controller's stores bounded ({@link Limits}): events past their age or the row
 * cap are pruned (in short batches), console logs of instances deleted longer ago than their retention are removed,
 * and the in-memory progress and console offsets of instances that are deleted (or failed and silent for
 * {@link #SILENT_FAILED_MS}) are forgotten. Every path that ends an instance leaves this to the sweep, so a new
 * one cannot leak. Its own thread, off every request path; time is wall-clock, as events and rows record it.
 */
final class Retention implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Retention.class.getName());
    static final long PERIOD_MS = 60_000;
    /** A failed instance whose agent has said nothing for this long keeps its progress in the database only. */
    static final long SILENT_FAILED_MS = 10 * 60_000;
    /** At most this many prune batches per pass (10 million rows): a huge backlog goes over several passes. */
    private static final int MAX_BATCHES = 1000;

    private final Database db;
    private final EventRepository events;
    private final InstanceRepository instances;
    private final ConsoleLogs consoles;
    private final ProgressBoard progress;
    private final Limits limits;
    private final LongSupplier clockMs;
    private final Thread thread;
    private volatile boolean closed;

    Retention(Database db, EventRepository events, InstanceRepository instances, ConsoleLogs consoles, ProgressBoard progress,
            Limits limits, LongSupplier clockMs) {
        this.db = db;
        this.events = events;
        this.instances = instances;
        this.consoles = consoles;
        this.progress = progress;
        this.limits = limits;
        this.clockMs = clockMs;
        this.thread = Thread.ofPlatform().daemon().name("fleet-retention").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    private void run() {
        while (!closed) {
            try {
                sweep();
            } catch (RuntimeException e) {
                if (closed) return;
                LOG.log(Level.WARNING, "retention sweep failed: " + e.getMessage(), e);
            }
            try {
                Thread.sleep(PERIOD_MS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One pass. Visible for testing (tests sweep now rather than wait a period). */
    synchronized void sweep() {
        long now = clockMs.getAsLong();
        pruneEvents(now);
        forgetEnded(now);
        removeConsoles(now);
    }

    private void pruneEvents(long now) {
        long before = now - limits.eventRetention().toMillis();
        for (int i = 0; i < MAX_BATCHES && db.read(tx -> events.pruneOlderThan(tx, before)) == EventRepository.PRUNE_BATCH; i++) {
            // next batch
        }
        long upTo = db.read(events::newestId) - limits.eventMaxRows();
        if (upTo <= 0) return;
        for (int i = 0; i < MAX_BATCHES && db.read(tx -> events.pruneUpTo(tx, upTo)) == EventRepository.PRUNE_BATCH; i++) {
            // next batch
        }
    }

    /** Progress entries and console offsets held in memory for instances that ended. */
    private void forgetEnded(long now) {
        for (String id : progress.instances()) {
            Optional<InstanceRow> row = find(id);
            boolean silentFailure = row.isPresent() && row.get().state() == InstanceState.FAILED
                    && progress.reportedMs(id) < now - SILENT_FAILED_MS;
            if (row.isEmpty() || row.get().state() == InstanceState.DELETED || silentFailure) progress.forget(id);
        }
        for (String id : consoles.tracked()) {
            Optional<InstanceRow> row = find(id);
            if (row.isEmpty() || row.get().state() == InstanceState.DELETED) consoles.forgetHeld(id);
        }
    }

    private void removeConsoles(long now) {
        long before = now - limits.consoleRetention().toMillis();
        Set<String> ids;
        try {
            ids = new HashSet<>(consoles.instances(before + 1));
        } catch (IOException e) {
            LOG.warning("cannot list the console logs: " + e.getMessage());
            return;
        }
        for (String id : ids) {
            Optional<InstanceRow> row = find(id);
            if (row.isEmpty() || row.get().state() == InstanceState.DELETED && row.get().updatedAt() <= before) consoles.remove(id);
        }
    }

    private Optional<InstanceRow> find(String id) {
        return db.read(tx -> instances.find(tx, id));
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
