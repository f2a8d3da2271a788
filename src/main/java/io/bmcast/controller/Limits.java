package io.bmcast.controller;

import java.time.Duration;

/**
 * What the controller holds at most, and for how long: every store and every request that a client or an agent
 * can grow has its bound here, so an abusive or merely long-lived fleet cannot grow the controller's heap,
 * disk or database without end.
 *
 * @param maxJsonBody a JSON request body (launch, token, register...) larger than this is refused with 413
 * @param maxHeartbeatBody a heartbeat's body: a little more, since it carries console output (the agent sends
 *     at most 32 KiB of it per report, a control character taking up to 6 bytes in JSON)
 * @param maxUpload an operator's image upload (kernel and initrd in one multipart body)
 * @param consoleKeepBytes each instance's console log keeps at most its last this many bytes (and at least half)
 * @param consoleRetention a deleted instance's console log is removed this long after the instance was deleted
 * @param eventRetention events older than this are pruned
 * @param eventMaxRows the event table keeps at most this many of the newest events
 * @param replayMax a live stream resuming from an old {@code Last-Event-ID} (or 0) is sent at most this many of the
 *     newest events it missed, after one {@code events.skipped} event that says which ids it was not sent
 * @param streamsPerToken live event streams one token may hold open at once
 */
public record Limits(long maxJsonBody, long maxHeartbeatBody, long maxUpload, long consoleKeepBytes, Duration consoleRetention,
        Duration eventRetention, long eventMaxRows, int replayMax, int streamsPerToken) {

    public static final Limits DEFAULTS = new Limits(64 << 10, 256 << 10, 1L << 30, 1 << 20, Duration.ofDays(7),
            Duration.ofDays(7), 1_000_000, 10_000, 8);

    public Limits {
        if (maxJsonBody < 1024) throw new IllegalArgumentException("the JSON body limit must be at least 1 KiB");
        if (maxHeartbeatBody < maxJsonBody) throw new IllegalArgumentException("the heartbeat body limit must be at least the JSON body limit");
        if (maxUpload < maxJsonBody) throw new IllegalArgumentException("the upload limit must be at least the JSON body limit");
        if (consoleKeepBytes < 64 << 10) throw new IllegalArgumentException("the console log must keep at least 64 KiB (two heartbeats of output)");
        if (consoleRetention.isNegative()) throw new IllegalArgumentException("the console retention must not be negative");
        if (eventRetention.isNegative() || eventRetention.isZero()) throw new IllegalArgumentException("the event retention must be positive");
        if (eventMaxRows < 1) throw new IllegalArgumentException("the event table must keep at least one row");
        if (replayMax < 1) throw new IllegalArgumentException("a replay must send at least one event");
        if (streamsPerToken < 1) throw new IllegalArgumentException("each token needs at least one event stream");
    }

    public Limits withMaxJsonBody(long v) {
        return new Limits(v, Math.max(v, maxHeartbeatBody), Math.max(v, maxUpload), consoleKeepBytes, consoleRetention, eventRetention,
                eventMaxRows, replayMax, streamsPerToken);
    }

    public Limits withMaxUpload(long v) {
        return new Limits(maxJsonBody, maxHeartbeatBody, v, consoleKeepBytes, consoleRetention, eventRetention, eventMaxRows, replayMax, streamsPerToken);
    }

    public Limits withConsole(long keepBytes, Duration retention) {
        return new Limits(maxJsonBody, maxHeartbeatBody, maxUpload, keepBytes, retention, eventRetention, eventMaxRows, replayMax, streamsPerToken);
    }

    public Limits withEvents(Duration retention, long maxRows) {
        return new Limits(maxJsonBody, maxHeartbeatBody, maxUpload, consoleKeepBytes, consoleRetention, retention, maxRows, replayMax, streamsPerToken);
    }

    public Limits withReplayMax(int n) {
        return new Limits(maxJsonBody, maxHeartbeatBody, maxUpload, consoleKeepBytes, consoleRetention, eventRetention, eventMaxRows, n,
                streamsPerToken);
    }

    public Limits withStreamsPerToken(int n) {
        return new Limits(maxJsonBody, maxHeartbeatBody, maxUpload, consoleKeepBytes, consoleRetention, eventRetention, eventMaxRows, replayMax, n);
    }
}
