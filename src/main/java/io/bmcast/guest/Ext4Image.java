package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Makes a sparse ext4 disk image straight from a directory tree with {@code mke2fs -d}: no loop device, no mount,
 * so it works unprivileged and in containers. The image has no partition table (the kernel mounts the whole
 * device as root), which is what a root on the whole disk expects, unless it is made at an offset inside a
 * partitioned disk ({@link BootableDisk}); every method here takes that offset (0 for a bare filesystem). The
 * sample guests give the file system a UUID of their own and boot with {@code root=UUID=...}, so the device name
 * ({@code /dev/vda}, {@code /dev/nvme0n1}) does not matter.
 */
public final class Ext4Image {
    private Ext4Image() {}

    /** Creates {@code image} of {@code sizeBytes} (sparse) holding the tree under {@code rootDir}. */
    public static void create(Path rootDir, Path image, long sizeBytes, String label) throws IOException {
        create(rootDir, image, 0, sizeBytes, label, null);
    }

    /**
     * Creates the filesystem {@code offset} bytes into {@code image} (a partition of a disk image), leaving the
     * bytes before it and the file's size as they are; {@code uuid} null lets mke2fs pick one.
     */
    public static void create(Path rootDir, Path image, long offset, long sizeBytes, String label, UUID uuid)
            throws IOException {
        // -E root_owner keeps root the owner of "/" whoever runs this; lazy init keeps the file sparse.
        List<String> argv = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-t", "ext4", "-L", label,
                "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0" + (offset > 0 ? ",offset=" + offset : "")));
        if (uuid != null) argv.addAll(List.of("-U", uuid.toString()));
        argv.addAll(List.of("-d", rootDir.toString(), image.toString(), (sizeBytes / 1024) + "k"));
        HostCommand.run(Duration.ofMinutes(10), argv);
    }

    /**
     * The UUID a sample guest's root file system gets: derived from its name, so a rebuild boots with the same
     * command line and builds are reproducible.
     */
    public static UUID uuidFor(String name) {
        return UUID.nameUUIDFromBytes(("bmcast-root:" + name).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * How e2fsprogs tools (debugfs, e2fsck, dumpe2fs) name a filesystem {@code offset} bytes into {@code image}:
     * their Unix I/O manager takes options after a {@code ?}.
     */
    public static String device(Path image, long offset) {
        return offset == 0 ? image.toString() : image + "?offset=" + offset;
    }

    /** {@code e2fsck -fn}: a full read-only check; throws with e2fsck's report unless the filesystem is clean. */
    public static String check(Path image, long offset) throws IOException {
        return HostCommand.run(Duration.ofMinutes(5), List.of("e2fsck", "-fn", device(image, offset))).output();
    }

    /**
     * Reads one file out of an ext4 image on the host (debugfs, read-only), e.g. to check what a guest wrote after
     * it powered off. Throws if the file is not there.
     */
    public static byte[] readFile(Path image, String pathInImage) throws IOException {
        return readFile(image, 0, pathInImage);
    }

    /** {@link #readFile(Path, String)} for a filesystem {@code offset} bytes into {@code image}. */
    public static byte[] readFile(Path image, long offset, String pathInImage) throws IOException {
        Path out = java.nio.file.Files.createTempFile("bmcast-debugfs", ".out");
        try {
            java.nio.file.Files.delete(out);
            String log = HostCommand.run(Duration.ofMinutes(1),
                    List.of("debugfs", "-R", "dump " + pathInImage + " " + out, device(image, offset))).output();
            if (!java.nio.file.Files.exists(out)) {
                throw new java.nio.file.NoSuchFileException(pathInImage, null, "not in " + image + ": " + log.strip());
            }
            return java.nio.file.Files.readAllBytes(out);
        } finally {
            java.nio.file.Files.deleteIfExists(out);
        }
    }
}
