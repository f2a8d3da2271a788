package io.bmcast.mediator;

/**
 * The order of the background copy: the regions of a recorded boot profile first (what the last boot of
 * this image needed, in the order it needed it), then every other region in ascending order (sequential
 * reads suit the image server's disk and read-ahead). Skips regions that are no longer ABSENT. Owned by
 * the hydrator thread.
 */
final class HydrationOrder {
    private final int[] profile;
    private int profileIndex;
    private int cursor;

    HydrationOrder(int[] profile) {
        this.profile = profile;
    }

    /** The next ABSENT region to copy, or -1 when the ascending pass found none after its cursor. */
    int next(RegionMap map) {
        while (profileIndex < profile.length) {
            int r = profile[profileIndex];
            if (r < map.regions() && map.state(r) == RegionMap.ABSENT) return r;
            profileIndex++;
        }
        if (map.absentCount() == 0) return -1; // all present or being fetched: no scan of the whole map
        int r = map.nextAbsent(cursor);
        if (r >= 0) cursor = r;
        return r;
    }

    /** Starts the ascending pass over (a failed fetch can leave ABSENT regions behind the cursor). */
    void rewind() {
        cursor = 0;
    }

    boolean inProfile() {
        return profileIndex < profile.length;
    }
}
