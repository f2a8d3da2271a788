package io.bmcast.bench;

/**
 * One launch-and-destroy of N hollow instances, as measured from the benchmark's side.
 *
 * @param db           {@code h2} or {@code postgres}
 * @param mode         {@code parallel} (the controller as it ships) or {@code serialized} (the pre-Swift-Birth toolstack)
 * @param style        {@code requests}: N concurrent launch requests of one instance each; {@code count}: one request for N
 * @param n            instances launched
 * @param round        1-based repetition this sample belongs to
 * @param runningS     first request sent to the last instance {@code running} (streaming or later); negative when it
 *                     did not get there within the time box
 * @param timeBoxS     the time box it had (what "> X s" reports when {@code runningS} is negative)
 * @param scheduledP50 per launch: its request sent to its instance {@code scheduled}, median, seconds
 * @param scheduledP99 the same, 99th percentile
 * @param takenP99     per launch: its request sent to its node taking it ({@code starting}), 99th percentile: how long
 *                     the node took to hear of it
 * @param runningP50   per launch: its request sent to its instance running, median, seconds
 * @param runningP99   the same, 99th percentile
 * @param destroyS     first destroy request sent to the last of their nodes {@code available} again; negative when not measured
 */
record LaunchSample(String db, String mode, String style, int n, int round, double runningS, double timeBoxS,
        double scheduledP50, double scheduledP99, double takenP99, double runningP50, double runningP99, double destroyS) {

    boolean finished() {
        return runningS >= 0;
    }

    /** The key rows are grouped by: every figure except the round. */
    String key() {
        return db + "/" + mode + "/" + style + "/" + n;
    }
}
