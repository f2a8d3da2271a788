package io.bmcast.vmm;

/**
 * The disk controller the guest sees. bmcast's default is virtio-blk: it survives sustained load under QEMU's
 * emulation, which NVMe does not here.
 *
 * <p>NVMe's limits (QEMU 7.2's emulated controller, TCG, Debian 6.1 guest, plain local disk with no bmcast in the
 * path): under sustained concurrent I/O (direct reads and fsync'd writes without pause) the guest's NVMe driver
 * times commands out after ~40 s, resets the controller, then disables it, and the root file system is gone at
 * ~100 s. virtio-blk under the same load is fine. NVMe stays selectable ({@code --device nvme}) because bare-metal
 * servers have NVMe disks and an image may know no other controller.
 *
 * <p>Why it fails (the mechanism NvmeStallTest reproduces with a paused NBD server; when a sustained load triggers
 * it depends on the host): QEMU completes a command only when the host has done it, and on a busy host a flush (an
 * fdatasync of everything the guest wrote) or a write can take longer than the Linux NVMe driver's 30 s command
 * timeout; the driver then aborts the command and, when it times out again, resets the controller in the middle of
 * the load. virtio-blk has no command timeout in the guest: it waits. So when bmcast boots a kernel itself
 * ({@code -kernel}) on NVMe, it raises the driver's timeout on the kernel command line ({@link #kernelArgs}); a
 * disk that boots through its own boot loader keeps its own command line, and so the 30 s limit.
 *
 * <p>The sample guests find their root by file-system UUID through Debian's initramfs, so one command line boots
 * on either device.
 */
public enum DiskBus {
    VIRTIO("virtio-blk-pci", "/dev/vda"),
    NVME("nvme", "/dev/nvme0n1");

    /** The device a guest gets unless told otherwise. */
    public static final DiskBus DEFAULT = VIRTIO;

    /**
     * The Linux NVMe driver's command timeout bmcast gives NVMe guests, in seconds (the kernel's default is 30): long
     * enough for any stall of a busy host, short enough that a command really lost is still noticed.
     */
    public static final int NVME_IO_TIMEOUT_SECONDS = 600;

    private final String qemuDevice;
    private final String guestDevice;

    DiskBus(String qemuDevice, String guestDevice) {
        this.qemuDevice = qemuDevice;
        this.guestDevice = guestDevice;
    }

    public String qemuDevice() { return qemuDevice; }

    /** The device node the guest kernel gives the disk, for {@code root=}. */
    public String guestDevice() { return guestDevice; }

    /** Kernel parameters a Linux guest on this device gets, or "" for none. */
    public String kernelArgs() {
        return this == NVME ? "nvme_core.io_timeout=" + NVME_IO_TIMEOUT_SECONDS : "";
    }

    /** {@code append} with {@link #kernelArgs}, unless it sets them itself; null stays null. */
    public String withKernelArgs(String append) {
        String args = kernelArgs();
        if (append == null || args.isEmpty() || append.contains(args.substring(0, args.indexOf('=') + 1))) return append;
        return append.isBlank() ? args : append + " " + args;
    }
}
