package io.bmcast.instance;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A class-data sharing archive (the JDK's dynamic AppCDS) for the mediator's JVM, kept in the cache.
 *
 * <p>Why: the mediator's start is what stands between {@code instance run} and QEMU, and most of it is the
 * JVM loading and verifying our classes. Mapping them from an archive took a mediator's start (process
 * spawn to listening socket) from ~385 ms to ~280 ms here. The first mediator without an archive dumps one
 * when it exits, into a file of its own that is then renamed into place, so a concurrent mediator never maps
 * a half-written archive. The name carries the class path's size and modification time: a rebuilt jar gets
 * a new archive, and the JVM itself refuses an archive that does not match, running as usual.
 */
final class ClassDataArchive {
    private static final String PREFIX = "node-";
    private final Path dir;
    private final Path archive;
    /**
     * The JDK archives classes from jars only: with a class directory on the path (tests, an IDE) the dump fails
     * at exit and turns the mediator's clean exit code 0 into 1. Then the mediator runs without an archive.
     */
    private final boolean archivable;

    ClassDataArchive(Path dir, String classPath) {
        this.dir = dir;
        this.archive = dir.resolve(PREFIX + Long.toHexString(key(classPath)) + ".jsa");
        this.archivable = java.util.Arrays.stream(classPath.split(java.io.File.pathSeparator))
                .noneMatch(e -> Files.isDirectory(Path.of(e)));
    }

    /** JVM options for a mediator started now; {@code dumpTo} receives a new archive when none exists yet. */
    List<String> jvmOptions(Path dumpTo) {
        if (!archivable) return List.of();
        if (Files.isRegularFile(archive)) return List.of("-XX:SharedArchiveFile=" + archive);
        return List.of("-XX:ArchiveClassesAtExit=" + dumpTo);
    }

    /** After the mediator exited: makes its dump, if any, the archive, and drops archives of older builds. */
    void adopt(Path dumped) {
        try {
            if (!Files.isRegularFile(dumped) || Files.size(dumped) == 0) return;
            Files.createDirectories(dir);
            if (Files.exists(archive)) {
                Files.delete(dumped);
                return;
            }
            Files.move(dumped, archive, StandardCopyOption.ATOMIC_MOVE);
            try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, PREFIX + "*.jsa")) {
                for (Path p : old) if (!p.equals(archive)) Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // An optimisation only: without the archive the mediator starts as it always did.
        }
    }

    private static long key(String classPath) {
        long h = classPath.hashCode();
        for (String entry : classPath.split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            try {
                h = h * 31 + Files.size(p);
                h = h * 31 + Files.getLastModifiedTime(p).toMillis();
            } catch (IOException | RuntimeException e) {
                h = h * 31 + 1;
            }
        }
        return h;
    }
}
