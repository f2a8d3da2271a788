package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.options;
import static io.bmcast.mediator.Fixture.read;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control plane's cached extent map: written, read back, checked, and trusted by the mediator. */
class ImageExtentsTest {
    private static final int RS = 16 << 10;

    @TempDir
    Path tmp;

    @Test
    void aMapSurvivesTheFileAndTheMediatorTrustsIt() throws Exception {
        // Blocks 8..15 (regions 2 and 3) are a hole; so is everything from block 40 on.
        int[] holes = new int[8 + 24];
        for (int i = 0; i < 8; i++) holes[i] = 8 + i;
        for (int i = 0; i < 24; i++) holes[8 + i] = 40 + i;
        TestImage image = TestImage.random(21, 64 * 4096, holes);
        ImageExtents scanned = ImageExtents.scan(image);
        assertArrayEquals(new long[][] {{0, 8 * 4096}, {16 * 4096, 24 * 4096}}, scanned.extents());
        assertEquals(32 * 4096, scanned.dataBytes());
        Path file = tmp.resolve("extents.json");
        scanned.write(file);
        ImageExtents back = ImageExtents.read(file);
        assertEquals(scanned.size(), back.size());
        assertArrayEquals(scanned.extents(), back.extents());

        long calls = image.blockStatusCalls.get();
        Fixture f = new Fixture(tmp.resolve("m"));
        try (MediatedDisk disk = f.open(image, options(RS, "b").withSourceExtents(back))) {
            assertArrayEquals(image.data, read(disk, 0, image.data.length));
        }
        assertEquals(calls, image.blockStatusCalls.get(), "the map stood in for block status");
        assertEquals(32 * 4096, image.bytesRead.get(), "only the map's data was fetched");

        ImageExtents otherSize = new ImageExtents(image.data.length + 4096, back.extents());
        IOException e = assertThrows(IOException.class,
                () -> new Fixture(tmp.resolve("n")).open(image, options(RS, "b").withSourceExtents(otherSize)));
        assertTrue(e.getMessage().contains("another image"), e.getMessage());
    }

    @Test
    void aMalformedMapIsRefusedInOneLine() throws Exception {
        for (String json : new String[] {"{\"size\": 100, \"extents\": [[50, 10], [40, 5]]}",
                "{\"size\": 100, \"extents\": [[90, 20]]}", "{\"size\": 100, \"extents\": [[1]]}", "[1, 2", ""}) {
            Path file = Files.writeString(tmp.resolve("x.json"), json);
            IOException e = assertThrows(IOException.class, () -> ImageExtents.read(file), json);
            assertTrue(e.getMessage().startsWith("extents file " + file), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        }
    }
}
