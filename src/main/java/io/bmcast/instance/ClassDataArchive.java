package io.bmcast.instance;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A class-data archive for the mediator's JVM (JDK 25's AOT cache: classes loaded and linked ahead of time, the
 * module graph with them), kept in the cache.
 *
 * <p>Why: the mediator's start is what stands between {@code instance run} and QEMU, and most of it is the
 * JVM loading and verifying our classes. The first mediator without an archive records one as it runs and writes
 * it when it exits ({@code -XX:AOTCacheOutput}: the JVM starts a second JVM at exit, ~2 s), into a file of its own
 * that is then renamed into place, so a concurrent mediator never maps a half-written archive. The name carries
 * the class path and its entries' sizes and modification times: a rebuilt jar gets a new archive and the old
 * one is dropped, while another installation's archive (its own class path) is left alone.
 *
 * <p>Not the dynamic archive ({@code -XX:ArchiveClassesAtExit}) it used to be: that one sits on the JDK's own
 * archive, which was dumped without {@code --enable-native-access}, so every mediator logged "Mismatched values
 * for property jdk.module.enable.native.access" and ran with the JDK's module graph rebuilt instead of mapped. An
 * AOT cache is whole: recorded and used with the same options, it matches.
 */
final class ClassDataArchive {
    private static final String PREFIX = "node-";
    private static final String SUFFIX = ".aot";
    private final Path dir;
    /** {@code node-<class path>-}: the archives of this installation, whatever its build. */
    private final String installPrefix;
    private final Path archive;
    /**
     * The JDK archives classes from jars only: with a class directory on the path (tests, an IDE) the dump fails
     * at exit and turns the mediator's clean exit code 0 into 1. Then the mediator runs without an archive.
     */
    private final boolean archivable;

    ClassDataArchive(Path dir, String classPath) {
        this.dir = dir;
        this.installPrefix = PREFIX + Integer.toHexString(classPath.hashCode()) + "-";
        this.archive = dir.resolve(installPrefix + Long.toHexString(key(classPath)) + SUFFIX);
        this.archivable = java.util.Arrays.stream(classPath.split(java.io.File.pathSeparator))
                .noneMatch(e -> Files.isDirectory(Path.of(e)));
    }

    /** JVM options for a mediator started now; {@code dumpTo} receives a new archive when none exists yet. */
    List<String> jvmOptions(Path dumpTo) {
        if (!archivable) return List.of();
        if (Files.isRegularFile(archive)) return List.of("-XX:AOTCache=" + archive);
        return List.of("-XX:AOTCacheOutput=" + dumpTo);
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
            // This installation's older builds' archives, and the dynamic archives (.jsa) of bmcast before the AOT
            // cache. Not another installation's (a second checkout, another version beside this one): each would
            // delete the other's at every exit and every mediator would start without one.
            try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, installPrefix + "*" + SUFFIX)) {
                for (Path p : old) if (!p.equals(archive)) Files.deleteIfExists(p);
            }
            // Archives named before installations had their own prefix ("node-<key>.aot"): no one maps them again.
            try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, PREFIX + "*.{jsa,aot}")) {
                for (Path p : old) {
                    String n = p.getFileName().toString();
                    if (n.endsWith(".jsa") || n.indexOf('-', PREFIX.length()) < 0) Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            // An optimisation only: without the archive the mediator starts as it always did.
        }
    }

    /** Deletes a dump that is not to become the archive. */
    void discard(Path dumped) {
        try {
            Files.deleteIfExists(dumped);
        } catch (IOException e) {
            // the next start dumps again and replaces it
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
