/**
 * The thin VMM: QEMU launched with the guest disk as named block nodes, driven over QMP.
 *
 * <p>{@link io.bmcast.vmm.Qemu} starts a guest, {@link io.bmcast.vmm.Qmp} talks to it,
 * {@link io.bmcast.vmm.GuestConsole} reads and types on its serial console, {@link io.bmcast.vmm.Devirtualizer}
 * takes the mediator out of the I/O path.
 *
 * <p>QEMU 7.2 behaviour this package relies on or works around (checked on the build machine):
 * <ul>
 *   <li>A socket chardev with {@code server=on,wait=off} drops output while no client is connected, so QEMU is
 *       started with {@code -S}, the console and QMP are connected, then {@code cont} lets the guest run.
 *       {@code logfile=} on the chardev keeps a full copy regardless.</li>
 *   <li>The disk can be attached while QEMU is paused before the guest's first instruction ({@code -S}):
 *       {@code blockdev-add} of the nodes, then {@code device_add} of the NVMe or virtio-blk device (with
 *       {@code bootindex} for a disk's own boot loader); the firmware and the kernel find it as if it had been on
 *       the command line. {@code blockdev-add} of an {@code nbd} node connects at once and fails if no server
 *       listens. Its {@code open-timeout} retries instead, but sleeps a second (then longer) between attempts: a
 *       server up 0.45 s after QEMU was served it at 1.6 s. Hence {@link io.bmcast.vmm.Qemu#startWithoutDisk}.</li>
 *   <li>{@code /dev/kvm} may open fine yet a stock kernel hangs before its first line under KVM (nested hosts),
 *       hence {@link io.bmcast.vmm.Accel#detect}'s boot probe.</li>
 *   <li>De-virtualization: {@code blockdev-add {"driver":"file","node-name":"local","filename":F}},
 *       {@code blockdev-reopen {"options":[{"node-name":"fmt","driver":"raw","file":"local"}]}},
 *       {@code blockdev-del {"node-name":"nbd0"}}; about 20-30 ms, the guest notices nothing.</li>
 *   <li>QEMU takes OFD locks on image files: the {@code file} node for the local disk cannot be added while
 *       another QEMU process (e.g. qemu-nbd) holds the same file with locking on. The mediator takes no such
 *       lock; the tests start qemu-nbd with {@code file.locking=off}.</li>
 *   <li>The guest's disk is virtio-blk by default ({@link io.bmcast.vmm.DiskBus}): the emulated NVMe controller
 *       completes a command only when the host has, and a busy host that takes longer than the guest driver's 30 s
 *       timeout gets the controller reset and the disk dropped. De-virtualization is the same on both devices (it
 *       re-points the raw node under the device).</li>
 *   <li>Copy-on-read baseline: qcow2 overlay ({@code fmt}) with {@code "backing":"nbd0"} under a
 *       {@code copy-on-read} filter node ({@code cor}, the device's drive); {@code block-stream
 *       {"job-id":..,"device":"fmt"}} ends with {@code BLOCK_JOB_COMPLETED}; ~10 s for the 32 GiB sparse busybox
 *       disk over a Unix socket.</li>
 * </ul>
 */
package io.bmcast.vmm;
