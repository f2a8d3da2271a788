package io.bmcast.storage;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.testing.TestFiles;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileExportTest {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    private static List<long[]> extents(FileExport e, long offset, long length) throws Exception {
        List<long[]> out = new ArrayList<>();
        e.blockStatus(offset, length, (len, flags) -> out.add(new long[] {len, flags}));
        return out;
    }

    @Test
    void blockStatusFollowsTheFileLayout() throws Exception {
        Path f = TestFiles.sparse(dir.resolve("s.img"), 8 * MiB, 1, MiB, MiB, 6 * MiB, MiB);
        try (FileExport e = FileExport.open(f, true)) {
            assertEquals("s", e.name());
            assertEquals(8 * MiB, e.size());
            List<long[]> x = extents(e, 0, 8 * MiB);
            long hz = Nbd.STATE_HOLE | Nbd.STATE_ZERO;
            assertArrayEquals(new long[] {MiB, hz}, x.get(0));
            assertArrayEquals(new long[] {MiB, 0}, x.get(1));
            assertArrayEquals(new long[] {4 * MiB, hz}, x.get(2));
            assertArrayEquals(new long[] {MiB, 0}, x.get(3));
            assertArrayEquals(new long[] {MiB, hz}, x.get(4));
            // A window inside the data extent, and one that stops mid-hole.
            assertArrayEquals(new long[] {4096, 0}, extents(e, MiB + 4096, 4096).get(0));
            assertArrayEquals(new long[] {MiB, hz}, extents(e, 3 * MiB, MiB).get(0));
        }
    }

    @Test
    void zeroesAndTrimsPunchHolesAndReadAsZero() throws Exception {
        Path f = TestFiles.random(dir.resolve("w.img"), 4 * MiB, 2);
        try (FileExport e = FileExport.open(f, false)) {
            e.writeZeroes(MiB, MiB, false, true, false);
            e.writeZeroes(3 * MiB, 64 * 1024, true, false, true);
            e.trim(0, 64 * 1024, false);
            ByteBuffer b = ByteBuffer.allocate((int) MiB);
            e.read(MiB, b);
            assertArrayEquals(new byte[(int) MiB], b.array());
            List<long[]> x = extents(e, 0, 4 * MiB);
            assertEquals(Nbd.STATE_HOLE | Nbd.STATE_ZERO, x.get(0)[1], "trimmed start is a hole");
            long pos = 0;
            boolean sawHoleAt1M = false;
            for (long[] ext : x) {
                if (pos == MiB && ext[1] != 0) sawHoleAt1M = true;
                pos += ext[0];
            }
            assertEquals(4 * MiB, pos);
            assertTrue(sawHoleAt1M, "writeZeroes without NO_HOLE punched a hole");
            byte[] all = Files.readAllBytes(f);
            for (int i = 0; i < 64 * 1024; i++) assertEquals(0, all[(int) (3 * MiB) + i]);
        }
    }

    @Test
    void readOnlyRefusesChangesWithEperm() throws Exception {
        Path f = TestFiles.random(dir.resolve("r.img"), MiB, 3);
        try (FileExport e = FileExport.open(f, true)) {
            assertTrue(e.readOnly());
            NbdException x = assertThrows(NbdException.class, () -> e.write(0, ByteBuffer.allocate(16), false));
            assertEquals(Nbd.EPERM, x.error());
            assertEquals(Nbd.EPERM, assertThrows(NbdException.class, () -> e.trim(0, 4096, false)).error());
        }
    }

    @Test
    void writesAreDurableAndVisible() throws Exception {
        Path f = TestFiles.random(dir.resolve("d.img"), MiB, 4);
        try (FileExport e = FileExport.open(f, false)) {
            e.write(12345, ByteBuffer.wrap(TestFiles.bytes(1000, 7)), true);
            e.flush();
        }
        byte[] all = Files.readAllBytes(f);
        assertEquals(7, all[12345]);
        assertEquals(7, all[12345 + 999]);
    }
}
