package io.bmcast.agent;

import java.io.IOException;
import java.util.List;

/**
 * Quick Death's local scrub: the node wipes its own disk and proves it before it may be offered again. The wipe
 * and the proof are independent steps: a wipe that fails, or that claims success and did nothing, leaves data
 * that the verification finds, and the outcome is then "not clean" whatever the wipe said.
 *
 * <p>Neither runs while anything still holds the disk ({@link DiskHolders}): the scrub is refused, naming the
 * holder, and the disk stays not clean until a later scrub finds it free. The holders are looked for again after
 * the proof, so one that opened the disk meanwhile also leaves it not clean.
 */
public final class Scrubber {
    private Scrubber() {}

    /**
     * @param clean true only when nothing held the disk and the verification found nothing
     * @param reason why it is not clean (a holder; the wipe's error and the verification's finding), or null
     * @param method how the disk was wiped and proved (e.g. "zero (BLKZEROOUT, full read-back)")
     */
    public record Outcome(boolean clean, String reason, String method, long wipeNanos, long verifyNanos) {
        public double seconds() {
            return (wipeNanos + verifyNanos) / 1e9;
        }
    }

    public static Outcome scrub(MachineDisk disk) {
        String held = holders(disk);
        if (held != null) return new Outcome(false, "scrub refused: " + held, disk.method(), 0, 0);
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
        if (finding == null && (held = holders(disk)) != null) finding = "during the scrub, " + held;
        if (finding == null) return new Outcome(true, null, disk.method(), t1 - t0, t2 - t1);
        String reason = "scrub not verified: " + finding + (wipeError == null ? "" : " (" + wipeError + ")");
        return new Outcome(false, reason, disk.method(), t1 - t0, t2 - t1);
    }

    /** "DISK is open by pid N (command)" and the like, or null when nothing holds the disk. */
    static String holders(MachineDisk disk) {
        try {
            List<String> h = DiskHolders.find(disk.path());
            return h.isEmpty() ? null : disk.path() + " is " + String.join("; ", h);
        } catch (IOException | RuntimeException e) {
            return "cannot tell whether anything holds " + disk.path() + ": " + e.getMessage();
        }
    }
}
