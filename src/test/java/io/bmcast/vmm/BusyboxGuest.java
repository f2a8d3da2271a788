package io.bmcast.vmm;

import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.guest.HostCommand;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** The busybox sample guest for tests: built once into the cache, copied (sparse) per test. */
final class BusyboxGuest {
    private BusyboxGuest() {}

    static GuestImage image() throws IOException {
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX, 0);
        return b.build(b.defaultDir());
    }

    /** The same guest as a whole disk that boots itself (MBR, syslinux, ext4 root partition): no kernel to pass. */
    static GuestImage bootableImage() throws IOException {
        GuestBuilder b = new GuestBuilder(GuestKind.BUSYBOX_DISK, 0);
        return b.build(b.defaultDir());
    }

    /** A private sparse copy of the guest's disk, so a test may write to it. */
    static Path copyDisk(GuestImage g, Path dir) throws IOException {
        Path copy = dir.resolve("disk.img");
        HostCommand.run(Duration.ofMinutes(1), List.of("cp", "--sparse=always", g.disk().toString(), copy.toString()));
        return copy;
    }
}
