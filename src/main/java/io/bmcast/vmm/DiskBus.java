package io.bmcast.vmm;

/** The disk controller the guest sees; bmcast's default is NVMe, what bare-metal servers have. */
public enum DiskBus {
    NVME("nvme", "/dev/nvme0n1"),
    VIRTIO("virtio-blk-pci", "/dev/vda");

    private final String qemuDevice;
    private final String guestDevice;

    DiskBus(String qemuDevice, String guestDevice) {
        this.qemuDevice = qemuDevice;
        this.guestDevice = guestDevice;
    }

    public String qemuDevice() { return qemuDevice; }

    /** The device node the guest kernel gives the disk, for {@code root=}. */
    public String guestDevice() { return guestDevice; }
}
