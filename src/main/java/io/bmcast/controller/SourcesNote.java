package io.bmcast.controller;

import io.bmcast.fleet.ByteSources;
import io.bmcast.util.Units;

/** Where an instance's bytes came from, in one line for its event and the dashboard. */
final class SourcesNote {
    private SourcesNote() {}

    /** e.g. "412 MiB local: 380 MiB from peers, 32 MiB from the store, 0 from cache; 412 chunks verified, 0 rejected". */
    static String of(ByteSources s) {
        return size(s.total()) + " local: " + size(s.bytesFromPeers()) + " from peers, " + size(s.bytesFromStore()) + " from the store, "
                + size(s.bytesFromCache()) + " from cache; " + s.chunksVerified() + " chunk" + (s.chunksVerified() == 1 ? "" : "s")
                + " verified, " + s.chunksRejected() + " rejected";
    }

    private static String size(long bytes) {
        return bytes == 0 ? "0" : Units.formatSize(bytes);
    }
}
