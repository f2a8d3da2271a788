package io.bmcast.guest;

import io.bmcast.util.UsageException;
import io.bmcast.util.Units;
import java.nio.file.Path;

/** {@code bmcast guest build busybox|debian|busybox-disk [--out DIR] [--app-data SIZE]}. */
public final class GuestCommand {
    private GuestCommand() {}

    public static final String USAGE = "guest build busybox|debian|busybox-disk [--out DIR] [--app-data SIZE]";

    public static int run(String[] args) throws Exception {
        if (args.length < 2 || !args[0].equals("build")) throw new UsageException("usage: bmcast " + USAGE);
        GuestKind kind;
        try {
            kind = GuestKind.parse(args[1]);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        Path out = null;
        long appData = 0;
        for (int i = 2; i < args.length; i++) {
            String a = args[i];
            if ((a.equals("--out") || a.equals("--app-data")) && i + 1 >= args.length) {
                throw new UsageException(a + " needs a value");
            }
            switch (a) {
                case "--out" -> out = Path.of(args[++i]);
                case "--app-data" -> {
                    try {
                        appData = Units.parseSize(args[++i]);
                    } catch (IllegalArgumentException e) {
                        throw new UsageException(e.getMessage());
                    }
                }
                default -> throw new UsageException("unknown option '" + a + "' (usage: bmcast " + USAGE + ")");
            }
        }
        GuestBuilder b = new GuestBuilder(kind, appData);
        long t0 = System.nanoTime();
        GuestImage g = b.build(out != null ? out : b.defaultDir());
        System.out.println("guest:   " + g.kind().id() + " (" + Units.formatSize(g.diskSize()) + " sparse disk, built or reused in "
                + (System.nanoTime() - t0) / 1_000_000 + " ms)");
        System.out.println("dir:     " + g.dir());
        System.out.println("disk:    " + g.disk());
        System.out.println("kernel:  " + (g.kernel() != null ? g.kernel()
                : "(on the disk: MBR -> syslinux -> vmlinuz; boot with no --kernel)"));
        if (g.initrd() != null) System.out.println("initrd:  " + g.initrd() + " (needed for a virtio-blk root)");
        System.out.println("append:  " + g.append());
        System.out.println("ready:   " + g.readyMarker());
        System.out.println("check:   cd " + g.dataDir() + " && sha256sum -c " + TestData.SUMS);
        if (g.appData() != null) System.out.println("appdata: " + g.appData() + " (" + Units.formatSize(g.appDataSize()) + ")");
        return 0;
    }
}
