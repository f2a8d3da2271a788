package io.bmcast.storage;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.ClientTestProcesses.Server;
import io.bmcast.transport.Export;
import io.bmcast.transport.NbdUri;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The image server seen as an {@link Export}: a read-only sparse image behind qemu-nbd and nbdkit. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RemoteExportTest {

    private static Path image(ClientTestProcesses procs) throws Exception {
        Path p = procs.path("image.img");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(32 << 20);
            byte[] data = new byte[2 << 20];
            new Random(1).nextBytes(data);
            f.seek(8 << 20);
            f.write(data);
        }
        return p;
    }

    private static List<long[]> extents(Export e, long offset, long length) throws Exception {
        List<long[]> out = new ArrayList<>();
        long pos = offset;
        while (pos < offset + length) {
            long start = pos;
            long[] covered = {0};
            e.blockStatus(pos, offset + length - pos, (len, flags) -> {
                out.add(new long[] {start + covered[0], len, flags});
                covered[0] += len;
                return true;
            });
            assertTrue(covered[0] > 0);
            pos += covered[0];
        }
        return out;
    }

    @Test
    void readOnlyImageWithHolesOverQemuNbd() throws Exception {
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path file = image(procs);
            byte[] expected = Files.readAllBytes(file);
            Server s = procs.qemuNbd("-r", "-x", "img", "-D", "test image", "-f", "raw", file.toString());
            try (RemoteExport e = RemoteExport.open(NbdUri.unix(s.socket(), "img"))) {
                assertEquals("img", e.name());
                assertEquals("test image", e.description());
                assertEquals(32 << 20, e.size());
                assertTrue(e.readOnly());
                assertFalse(e.canTrim());
                assertFalse(e.canWriteZeroes());
                assertFalse(e.completesQuickly(0, 4096));
                assertEquals(Nbd.EPERM, assertThrows(NbdException.class, () -> e.write(0, ByteBuffer.allocate(4096), false)).error());

                ByteBuffer b = ByteBuffer.allocateDirect(expected.length);
                e.read(0, b);
                b.flip();
                byte[] got = new byte[expected.length];
                b.get(got);
                assertArrayEquals(expected, got);

                List<long[]> ext = extents(e, 0, e.size());
                long pos = 0;
                for (long[] x : ext) {
                    assertEquals(pos, x[0], "contiguous");
                    pos += x[1];
                    boolean data = x[0] < (10 << 20) && x[0] + x[1] > (8 << 20);
                    if (data) assertEquals(0, x[2] & Nbd.STATE_HOLE, "data region reported as hole");
                }
                assertEquals(e.size(), pos);
                assertTrue(ext.stream().anyMatch(x -> (x[2] & Nbd.STATE_HOLE) != 0 && x[0] <= (20 << 20) && x[0] + x[1] > (20 << 20)));

                // A sink that stops early gets no more extents.
                int[] calls = {0};
                e.blockStatus(0, e.size(), (len, flags) -> ++calls[0] < 1);
                assertEquals(1, calls[0]);
            }
        }
    }

    @Test
    void writableExportOverNbdkit() throws Exception {
        try (ClientTestProcesses procs = new ClientTestProcesses()) {
            Path file = image(procs);
            Server s = procs.nbdkit("file", file.toString());
            try (RemoteExport e = RemoteExport.open(NbdUri.unix(s.socket(), ""))) {
                assertFalse(e.readOnly());
                assertTrue(e.canFlush());
                byte[] data = new byte[65536];
                Arrays.fill(data, (byte) 0x5a);
                e.write(1 << 20, ByteBuffer.wrap(data), false);
                e.writeZeroes(8 << 20, 4096, false, false, false);
                e.flush();
                byte[] onDisk = Files.readAllBytes(file);
                assertArrayEquals(data, Arrays.copyOfRange(onDisk, 1 << 20, (1 << 20) + 65536));
                assertArrayEquals(new byte[4096], Arrays.copyOfRange(onDisk, 8 << 20, (8 << 20) + 4096));
            }
        }
    }
}
