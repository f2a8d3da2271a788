package io.bmcast.agent;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * One clear log line when the controller becomes unreachable, one when it is back, and a reminder every
 * {@link #REMIND_NS} meanwhile: an agent never dies of an absent controller, and a thousand hollow nodes sharing
 * one of these do not flood the log with a thousand copies of the same line.
 */
final class Reachability {
    static final long REMIND_NS = 30_000_000_000L;
    private static final Logger LOG = System.getLogger("io.bmcast.agent");

    private final String who;
    // guarded by this
    private boolean down;
    private long lastLineNs;
    private int failures;

    Reachability(String who) {
        this.who = who;
    }

    synchronized void failed(String error, long retryInMs, long nowNs) {
        failures++;
        if (!down || nowNs - lastLineNs > REMIND_NS) {
            LOG.log(Level.WARNING, who + ": " + error + (down ? " (still; " + failures + " failed attempts)" : "")
                    + "; retrying in " + retryInMs + " ms");
            lastLineNs = nowNs;
        }
        down = true;
    }

    synchronized void ok() {
        if (down) LOG.log(Level.INFO, who + ": controller reachable again after " + failures + " failed attempts");
        down = false;
        failures = 0;
    }
}
