package io.bmcast.agent;

import java.io.IOException;

/**
 * Quick Death's local scrub: the node wipes its own disk and proves it before it may be offered again. The wipe
 * and the proof are independent steps: a wipe that fails, or that claims success and did nothing, leaves data
 * that the verification finds, and the outcome is then "not clean" whatever the wipe said.
 */
public final class Scrubber {
    private Scrubber() {}

    /**
     * @param clean true only when the verification found nothing
     * @param reason why it is not clean (the wipe's error and the verification's finding), or null
     */
    public record Outcome(boolean clean, String reason, long wipeNanos, long verifyNanos) {
        public double seconds() {
            return (wipeNanos + verifyNanos) / 1e9;
        }
    }

    public static Outcome scrub(MachineDisk disk) {
        long t0 = System.nanoTime();
        String wipeError = null;
        try {
            disk.wipe();
        } catch (IOException | RuntimeException e) {
            wipeError = "wiping " + disk.path() + " failed: " + e.getMessage();
        }
        long t1 = System.nanoTime();
        String finding;
        try {
            finding = disk.verify();
        } catch (IOException | RuntimeException e) {
            finding = "could not verify " + disk.path() + ": " + e.getMessage();
        }
        long t2 = System.nanoTime();
        if (finding == null) return new Outcome(true, null, t1 - t0, t2 - t1);
        String reason = "scrub not verified: " + finding + (wipeError == null ? "" : " (" + wipeError + ")");
        return new Outcome(false, reason, t1 - t0, t2 - t1);
    }
}
