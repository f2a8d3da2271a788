package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Makes a sparse ext4 disk image straight from a directory tree with {@code mke2fs -d}: no loop device, no mount,
 * so it works unprivileged and in containers. The image has no partition table (the kernel mounts the whole
 * device as root), which is what {@code root=/dev/nvme0n1} expects.
 */
public final class Ext4Image {
    private Ext4Image() {}

    /** Creates {@code image} of {@code sizeBytes} (sparse) holding the tree under {@code rootDir}. */
    public static void create(Path rootDir, Path image, long sizeBytes, String label) throws IOException {
        // -E root_owner keeps root the owner of "/" whoever runs this; lazy init keeps the file sparse.
        HostCommand.run(Duration.ofMinutes(10), List.of("mke2fs", "-q", "-F", "-t", "ext4", "-L", label,
                "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
                "-d", rootDir.toString(), image.toString(), (sizeBytes / 1024) + "k"));
    }

    /**
     * Reads one file out of an ext4 image on the host (debugfs, read-only), e.g. to check what a guest wrote after
     * it powered off. Throws if the file is not there.
     */
    public static byte[] readFile(Path image, String pathInImage) throws IOException {
        Path out = java.nio.file.Files.createTempFile("bmcast-debugfs", ".out");
        try {
            java.nio.file.Files.delete(out);
            String log = HostCommand.run(Duration.ofMinutes(1),
                    List.of("debugfs", "-R", "dump " + pathInImage + " " + out, image.toString())).output();
            if (!java.nio.file.Files.exists(out)) {
                throw new java.nio.file.NoSuchFileException(pathInImage, null, "not in " + image + ": " + log.strip());
            }
            return java.nio.file.Files.readAllBytes(out);
        } finally {
            java.nio.file.Files.deleteIfExists(out);
        }
    }
}
