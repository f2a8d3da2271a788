package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassDataArchiveTest {
    @TempDir
    Path tmp;

    @Test
    void firstMediatorDumpsLaterOnesMapAndARebuiltJarStartsOver() throws Exception {
        Path jar = Files.writeString(tmp.resolve("bmcast.jar"), "v1");
        Path cache = tmp.resolve("cds");
        Path dump = tmp.resolve("state/node-classes.jsa.tmp");
        ClassDataArchive cds = new ClassDataArchive(cache, jar.toString());
        assertEquals(List.of("-XX:ArchiveClassesAtExit=" + dump), cds.jvmOptions(dump), "no archive yet: dump one");

        cds.adopt(dump); // the mediator was killed: nothing dumped, nothing adopted
        assertEquals(List.of("-XX:ArchiveClassesAtExit=" + dump), cds.jvmOptions(dump), "still none");
        Files.createDirectories(dump.getParent());
        Files.writeString(dump, "classes");
        cds.adopt(dump);
        assertFalse(Files.exists(dump), "the dump became the archive");
        List<String> opts = cds.jvmOptions(dump);
        assertEquals(1, opts.size());
        assertTrue(opts.get(0).startsWith("-XX:SharedArchiveFile=" + cache), opts.toString());

        Files.writeString(jar, "v2, rebuilt");
        ClassDataArchive rebuilt = new ClassDataArchive(cache, jar.toString());
        assertEquals(List.of("-XX:ArchiveClassesAtExit=" + dump), rebuilt.jvmOptions(dump), "another build: dump anew");
        Files.writeString(dump, "classes v2");
        rebuilt.adopt(dump);
        try (var files = Files.list(cache)) {
            assertEquals(1, files.count(), "the older build's archive is dropped");
        }
    }

    @Test
    void aClassDirectoryOnThePathMeansNoArchive() throws Exception {
        Path jar = Files.writeString(tmp.resolve("bmcast.jar"), "v1");
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        ClassDataArchive cds = new ClassDataArchive(tmp.resolve("cds"), classes + java.io.File.pathSeparator + jar);
        assertEquals(List.of(), cds.jvmOptions(tmp.resolve("dump.jsa")), "the JDK cannot dump classes from a directory");
    }
}
