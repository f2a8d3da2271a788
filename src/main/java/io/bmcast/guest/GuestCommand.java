package io.bmcast.guest;

import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.UsageException;
import io.bmcast.util.Units;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bmcast guest build busybox|debian|busybox-disk|debian-db [--out DIR] [--app-data SIZE]}. */
@Command(name = "guest", description = "Sample guests to deploy.", subcommands = GuestCommand.Build.class)
public final class GuestCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UsageException("guest needs a sub-command: build");
    }

    @Command(name = "build", sortOptions = false,
            description = "Build (or reuse) a sample guest: a sparse 32 GiB ext4 disk.img and vmlinuz; busybox-disk: "
                    + "a whole disk (MBR, syslinux, ext4) that boots itself.")
    static final class Build implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "KIND", description = "busybox, debian, busybox-disk or debian-db (PostgreSQL, pgbench and fio; boot it on virtio).")
        String kind;

        @Option(names = "--out", paramLabel = "DIR", description = "Build here (default: the cache).")
        Path out;

        @Option(names = "--app-data", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "0",
                description = "Application data the boot never reads, e.g. 1G (default none).")
        long appData;

        @Override
        public Integer call() throws Exception {
            GuestKind guestKind;
            try {
                guestKind = GuestKind.parse(kind);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            GuestBuilder b = new GuestBuilder(guestKind, appData);
            long t0 = System.nanoTime();
            GuestImage g = b.build(out != null ? out : b.defaultDir(), step -> System.err.println("guest: " + step));
            System.out.println("guest:   " + g.kind().id() + " (" + Units.formatSize(g.diskSize()) + " sparse disk, built or reused in "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms)");
            System.out.println("dir:     " + g.dir());
            System.out.println("disk:    " + g.disk());
            System.out.println("kernel:  " + (g.kernel() != null ? g.kernel()
                    : "(on the disk: MBR -> syslinux -> vmlinuz; boot with no --kernel)"));
            if (g.initrd() != null) System.out.println("initrd:  " + g.initrd() + " (Debian's initramfs: loads virtio-blk, finds the root by UUID)");
            System.out.println("append:  " + g.append());
            System.out.println("ready:   " + g.readyMarker());
            System.out.println("check:   cd " + g.dataDir() + " && sha256sum -c " + TestData.SUMS);
            if (g.appData() != null) System.out.println("appdata: " + g.appData() + " (" + Units.formatSize(g.appDataSize()) + ")");
            return 0;
        }
    }
}
