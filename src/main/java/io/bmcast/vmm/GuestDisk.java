package io.bmcast.vmm;

import java.nio.file.Path;

/**
 * Where the guest's disk comes from. Every variant ends in a format node named {@link #FORMAT_NODE} under the
 * device, so the device never has to change when what is beneath it does (that is what de-virtualization swaps).
 */
public sealed interface GuestDisk {
    /** Node name of the raw (or qcow2) format node the device is attached to. */
    String FORMAT_NODE = "fmt";
    /** Node name of the NBD protocol node. */
    String NBD_NODE = "nbd0";
    /** Node name of a local file node. */
    String LOCAL_NODE = "local";

    /**
     * Mediated: {@code nbd0} (NBD over a Unix socket) under {@code fmt} (raw). With {@code reconnectDelaySeconds}
     * > 0 QEMU holds guest I/O for that long while it reconnects to a restarted server instead of failing it.
     */
    record Nbd(Path socket, String exportName, int reconnectDelaySeconds) implements GuestDisk {
        public Nbd(Path socket) { this(socket, "", 20); }
    }

    /** Local-disk baseline: {@code local} (file, or host_device for a /dev path) under {@code fmt} (raw). */
    record Local(Path file) implements GuestDisk {}

    /**
     * QEMU's own streaming, the baseline bmcast is compared with: a local qcow2 overlay ({@code fmt}) whose backing
     * is {@code nbd0}, behind a copy-on-read filter so every guest read is also stored locally; {@code block-stream}
     * copies the rest ({@link Qemu#startBlockStream}). The overlay file is created by {@link Qemu#start}.
     */
    record CopyOnRead(Path socket, Path overlay, long size) implements GuestDisk {}

    /**
     * Remote boot, the baseline that never copies: the same local qcow2 overlay ({@code fmt}) over {@code nbd0} as
     * {@link CopyOnRead} but without the copy-on-read filter, so reads always go to the server and only the guest's
     * own writes are local. The overlay file is created by {@link Qemu#start}.
     */
    record Overlay(Path socket, Path overlay, long size) implements GuestDisk {}
}
