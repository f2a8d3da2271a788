package io.bmcast.agent;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a block-device disk is wiped ({@code agent --scrub}). Every mode ends with the same proof, a read-back of
 * the whole device that must find nothing but zeros: a device has no allocation map to ask, and a sample proves
 * nothing about the blocks it did not read (a thin pool or a RAID set that ignores a discard keeps its data in
 * exactly those). A disk file is always punched and proved by SEEK_DATA, whatever the mode.
 */
public enum ScrubMode {
    /** BLKZEROOUT: the device's write-zeroes (or unmap with zeroing) when it has one, zeros written when not. */
    ZERO("BLKZEROOUT"),
    /** BLKDISCARD only: fast, but many devices treat it as a hint; the read-back then finds the data and says so. */
    DISCARD("BLKDISCARD"),
    /** BLKSECDISCARD: the device's own secure erase, refused where the device has none. */
    SECURE_ERASE("BLKSECDISCARD");

    private final String call;

    ScrubMode(String call) {
        this.call = call;
    }

    /** The name on the command line: zero, discard, secure-erase. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** What ran, as the log and the scrub's outcome say it. */
    String describe() {
        return wire() + " (" + call + ", full read-back)";
    }

    public static ScrubMode parse(String text) {
        for (ScrubMode m : values()) if (m.wire().equals(text)) return m;
        throw new IllegalArgumentException("the scrub mode must be one of " + names() + ", not '" + text + "'");
    }

    public static String names() {
        return Arrays.stream(values()).map(ScrubMode::wire).collect(Collectors.joining(", "));
    }
}
