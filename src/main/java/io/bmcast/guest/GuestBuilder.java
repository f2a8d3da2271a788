package io.bmcast.guest;

import io.bmcast.util.Units;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Builds a sample guest into a directory, reusing a finished build. Everything is staged in a sibling
 * {@code .tmp} directory and renamed into place at the end, so an interrupted build never looks finished.
 *
 * <p>Sizes: the disk is a sparse 32 GiB, like the paper's instances, so "copy the whole image" costs what it
 * would in production while the guest itself touches only tens of MiB. The test data (8 x 2 MiB) is enough for
 * every mediator region size (up to 4 MiB) to see several regions, small enough to hash in a second under TCG.
 */
public final class GuestBuilder {
    public static final long DISK_SIZE = 32L << 30;
    static final int DATA_FILES = 8;
    static final long DATA_FILE_SIZE = 2L << 20;
    static final String DATA_DIR = "/data";
    static final String APP_DATA = "/app/blob.bin";
    /** Application data progress is reported every this many bytes written. */
    static final long PROGRESS_STEP = 256L << 20;

    private final GuestKind kind;
    private final long appDataSize;

    public GuestBuilder(GuestKind kind, long appDataSize) {
        if (appDataSize < 0) throw new IllegalArgumentException("app data size must be >= 0");
        this.kind = kind;
        this.appDataSize = appDataSize;
    }

    /**
     * The cache directory this guest is built in unless told otherwise, e.g. {@code .../guests/busybox-app1G-r2}.
     * The recipe's revision is in the name, so builds by older code (another checkout sharing the cache) are
     * neither reused nor disturbed.
     */
    public Path defaultDir() {
        String name = kind.id() + (appDataSize > 0 ? "-app" + Units.formatSize(appDataSize).replace(" ", "")
                .replace("iB", "").replace("B", "") : "") + (kind.revision() > 1 ? "-r" + kind.revision() : "");
        return GuestCache.root().resolve("guests").resolve(name);
    }

    /**
     * Builds into {@code out} unless a finished build of the same kind and app data is already there; a build by
     * an older revision of the recipe is replaced.
     */
    public GuestImage build(Path out) throws IOException {
        return build(out, step -> {});
    }

    /** As {@link #build(Path)}, telling {@code progress} each step and how much of the application data is written. */
    public GuestImage build(Path out, Consumer<String> progress) throws IOException {
        out = out.toAbsolutePath();
        if (Files.exists(out.resolve(GuestImage.JSON))) {
            GuestImage existing = GuestImage.load(out);
            if (existing.kind() != kind || existing.appDataSize() != appDataSize) {
                throw new IOException(out + " holds a different guest (" + existing.kind().id() + ", app data "
                        + existing.appDataSize() + " bytes); choose another --out");
            }
            if (existing.revision() >= kind.revision()) return existing;
        }
        HostKernel kernel = HostKernel.find();
        Path stage = out.resolveSibling(out.getFileName() + ".tmp");
        removeTree(stage);
        try {
            Files.createDirectories(stage);
        } catch (IOException e) {
            throw new IOException("cannot create the build directory " + stage + ": " + reason(e), e);
        }
        Path root = stage.resolve("root");
        try {
            progress.accept("populating the " + kind.id() + " root file system");
            switch (kind) {
                case BUSYBOX, BUSYBOX_DISK -> BusyboxRoot.populate(root, GuestImage.READY_MARKER, kernel);
                case DEBIAN -> DebianRoot.populate(root, GuestImage.READY_MARKER, kernel);
                case DEBIAN_DB -> DebianDbRoot.populate(root, GuestImage.READY_MARKER, kernel, progress);
            }
            progress.accept("writing " + DATA_FILES + " test data files of " + Units.formatSize(DATA_FILE_SIZE));
            Map<String, String> sums = TestData.writeFiles(root.resolve(DATA_DIR.substring(1)), DATA_FILES,
                    DATA_FILE_SIZE, 42);
            String appSha = null;
            if (appDataSize > 0) {
                Path app = root.resolve(APP_DATA.substring(1));
                Files.createDirectories(app.getParent());
                String total = Units.formatSize(appDataSize);
                progress.accept("writing " + total + " of application data");
                appSha = TestData.writeRandom(app, appDataSize, 4242, done -> {
                    if (done % PROGRESS_STEP == 0 && done < appDataSize) {
                        progress.accept("application data: " + Units.formatSize(done) + " of " + total + " written");
                    }
                });
            }
            Path initrd = stage.resolve("initrd.img");
            LeanInitramfs.build(kernel, initrd, stage, progress);
            // Root by UUID, which Debian's initramfs resolves: the same command line on virtio-blk and NVMe.
            // no_timer_check: on a loaded host the kernel's IO-APIC timer check can miss ticks under TCG and panic.
            java.util.UUID rootUuid = Ext4Image.uuidFor(kind.id());
            String append = "console=ttyS0 root=UUID=" + rootUuid + " rw panic=-1 no_timer_check quiet";
            progress.accept("making the " + Units.formatSize(DISK_SIZE) + " sparse disk image"
                    + (kind.bootsItself() ? " (MBR, syslinux, ext4)" : " (ext4)"));
            if (kind.bootsItself()) {
                BootableDisk.create(root, kernel.vmlinuz(), initrd, append, stage.resolve("disk.img"), DISK_SIZE,
                        "bmcast-" + kind.id(), rootUuid);
                removeTree(root);
                Files.delete(initrd);
            } else {
                Ext4Image.create(root, stage.resolve("disk.img"), 0, DISK_SIZE, "bmcast-" + kind.id(), rootUuid);
                removeTree(root);
                Files.copy(kernel.vmlinuz(), stage.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
            }
            new GuestImage(stage, kind, DISK_SIZE, append, GuestImage.READY_MARKER, DATA_DIR, sums,
                    appDataSize > 0 ? APP_DATA : null, appDataSize, appSha, kind.revision()).save();
            removeTree(out);
            Files.createDirectories(out.getParent());
            Files.move(stage, out, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            removeTree(stage);
            throw e;
        }
        return GuestImage.load(out);
    }

    /** Why a file operation failed, as the words that follow "cannot ...: ". */
    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException) return "permission denied";
        if (e instanceof NoSuchFileException) return "no such file or directory";
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** {@code rm -rf}: the Debian tree holds device nodes and odd permissions that a Java walk trips over. */
    static void removeTree(Path p) throws IOException {
        if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            HostCommand.run(Duration.ofMinutes(5), List.of("rm", "-rf", "--one-file-system", p.toString()));
        }
    }
}
