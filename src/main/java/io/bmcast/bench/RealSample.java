package io.bmcast.bench;

/**
 * One launch-and-destroy of {@code k} real busybox instances on the real mini-fleet.
 *
 * @param k              instances launched at once (each on its own agent's machine)
 * @param runningS       first launch request to the last instance streaming (the guest runs, its disk arriving)
 * @param devirtualizedS first launch request to the last instance devirtualized (local disk, mediator gone)
 * @param egressBytes    payload bytes the image server sent meanwhile, counted at the server
 * @param egressSeconds  first launch request to the image server's last read
 * @param destroyS       first destroy request to the last node available (powered off, scrubbed, verified)
 * @param scrubS         the longest of the agents' own scrub-and-verify times, seconds
 */
record RealSample(int k, int round, double runningS, double devirtualizedS, long egressBytes, double egressSeconds,
        double destroyS, double scrubS) {

    /** Bytes per second the image server sent, from the first request to its last read. */
    double egressRate() {
        return egressSeconds > 0 ? egressBytes / egressSeconds : Double.NaN;
    }
}
