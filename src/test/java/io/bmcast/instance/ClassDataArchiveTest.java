package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import io.bmcast.node.MediatorConfig;
import io.bmcast.node.MediatorMain;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.transport.NbdUri;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class ClassDataArchiveTest {
    @TempDir
    Path tmp;

    @Test
    void firstMediatorDumpsLaterOnesMapAndARebuiltJarStartsOver() throws Exception {
        Path jar = Files.writeString(tmp.resolve("bmcast.jar"), "v1");
        Path cache = tmp.resolve("cds");
        Path dump = tmp.resolve("state/node-classes.aot.tmp");
        ClassDataArchive cds = new ClassDataArchive(cache, jar.toString());
        assertEquals(List.of("-XX:AOTCacheOutput=" + dump), cds.jvmOptions(dump), "no archive yet: dump one");

        cds.adopt(dump); // the mediator was killed: nothing dumped, nothing adopted
        assertEquals(List.of("-XX:AOTCacheOutput=" + dump), cds.jvmOptions(dump), "still none");
        Files.createDirectories(dump.getParent());
        Files.writeString(dump, "classes");
        cds.adopt(dump);
        assertFalse(Files.exists(dump), "the dump became the archive");
        List<String> opts = cds.jvmOptions(dump);
        assertEquals(1, opts.size());
        assertTrue(opts.get(0).startsWith("-XX:AOTCache=" + cache), opts.toString());

        // Another installation (another checkout's jar) shares the cache dir: its archive is its own.
        Path otherJar = Files.writeString(Files.createDirectories(tmp.resolve("other")).resolve("bmcast.jar"), "v1");
        ClassDataArchive other = new ClassDataArchive(cache, otherJar.toString());
        Files.writeString(dump, "other classes");
        other.adopt(dump);
        assertEquals(opts, cds.jvmOptions(dump), "another installation's archive leaves this one's in place");

        Path legacy = Files.writeString(cache.resolve("node-26fbffe64842f.aot"), "an archive named by an older bmcast");
        Files.writeString(jar, "v2, rebuilt");
        ClassDataArchive rebuilt = new ClassDataArchive(cache, jar.toString());
        assertEquals(List.of("-XX:AOTCacheOutput=" + dump), rebuilt.jvmOptions(dump), "another build: dump anew");
        Files.writeString(dump, "classes v2");
        rebuilt.adopt(dump);
        try (var files = Files.list(cache)) {
            assertEquals(2, files.count(), "the older build's archive is dropped, the other installation's kept");
        }
        assertTrue(other.jvmOptions(dump).get(0).startsWith("-XX:AOTCache="), "the other installation still has its archive");
        assertFalse(Files.exists(legacy), "an archive named the old way is dropped");
    }

    @Test
    void aClassDirectoryOnThePathMeansNoArchive() throws Exception {
        Path jar = Files.writeString(tmp.resolve("bmcast.jar"), "v1");
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        ClassDataArchive cds = new ClassDataArchive(tmp.resolve("cds"), classes + java.io.File.pathSeparator + jar);
        assertEquals(List.of(), cds.jvmOptions(tmp.resolve("dump.aot")), "the JDK cannot dump classes from a directory");
    }

    /**
     * The archive as a deployment gets it: the first mediator {@link NodeProcess} starts records it, the second maps
     * its classes from it. {@code -XX:AOTMode=on} makes a JVM that cannot use the archive refuse to start (so the
     * mediator's start fails), and the class-load log names where each class came from.
     */
    @Test
    @Timeout(240)
    void theSecondMediatorLoadsItsClassesFromTheArchive() throws Exception {
        // The JDK archives classes from jars only: bmcast's classes as a jar, beside jackson-core's, as in a build.
        Path classes = Path.of(MediatorMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path jar = jar(classes, tmp.resolve("bmcast.jar"));
        Path jackson = Path.of(JsonFactory.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String classPath = jackson + File.pathSeparator + jar;
        Path cache = tmp.resolve("cds");
        Path image = TestFiles.sparse(tmp.resolve("image.raw"), 16L << 20, 1, 0, 1L << 20);
        try (TestServer images = TestServer.on(tmp).file("image", image, false).start()) {
            Path state = tmp.resolve("state");
            MediatorConfig config = new MediatorConfig(NbdUri.parse(images.uri("image")), tmp.resolve("disk.img"), state,
                    tmp.resolve("node.sock"), MediatorConfig.DEFAULT_REGION_SIZE, 0, Duration.ofSeconds(30), null, null);

            NodeProcess first = new NodeProcess(config, classPath, cache, List.of());
            first.start(Duration.ofSeconds(60), line -> {});
            assertEquals(0, first.stop(Duration.ofSeconds(120)), "the recording mediator's exit code");
            try (Stream<Path> archives = Files.list(cache)) {
                assertEquals(1, archives.filter(p -> p.toString().endsWith(".aot")).count(), "the first mediator left an archive");
            }

            Path log = state.resolve("node.log");
            long before = Files.size(log);
            NodeProcess second = new NodeProcess(config, classPath, cache, List.of("-XX:AOTMode=on", "-Xlog:class+load=info"));
            second.start(Duration.ofSeconds(60), line -> {});
            assertEquals(0, second.stop(Duration.ofSeconds(60)), "the second mediator's exit code");
            String secondLog = Files.readString(log).substring((int) before);
            for (String c : List.of("io.bmcast.node.MediatorMain", "io.bmcast.mediator.MediatedDisk", "io.bmcast.transport.NbdServer",
                    "com.fasterxml.jackson.core.JsonFactory")) {
                assertTrue(secondLog.contains(" " + c + " source: shared objects file"), c + " not from the archive:\n" + NodeProcess.tail(log));
            }
            assertFalse(secondLog.contains("[error]") || secondLog.contains("Mismatched"), "the JVM complained:\n" + secondLog.lines()
                    .filter(l -> l.contains("[error]") || l.contains("[warning]")).toList());
            assertFalse(secondLog.contains("picocli"), "the mediator's JVM loads no command-line parser");
        }
    }

    private static Path jar(Path classes, Path jar) throws IOException {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        return jar;
    }
}
