package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BarChartTest {
    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    private static BarChart.Chart sample() {
        return new BarChart.Chart("startup", "busybox, 1 Gbit/s", List.of("ready", "local"), List.of(
                new BarChart.Group("local", List.of(new BarChart.Bar(3, false), new BarChart.Bar(0, false))),
                new BarChart.Group("full-copy", List.of(new BarChart.Bar(2750, true), new BarChart.Bar(2747, true))),
                new BarChart.Group("remote", List.of(new BarChart.Bar(3.3, false), new BarChart.Bar(Double.NaN, false))),
                new BarChart.Group("bmcast", List.of(new BarChart.Bar(3.2, false), new BarChart.Bar(90, false)))));
    }

    @Test
    void logAxisCoversTheDecadesOfTheData() {
        BarChart.LogAxis a = BarChart.axisFor(sample());
        assertEquals(0, a.lowDecade()); // 3 s
        assertEquals(4, a.highDecade()); // 2750 s
        assertEquals(0.25, a.fraction(10), 1e-9);
        assertEquals(1.0, a.fraction(1e6), 1e-9, "clamped");
        assertEquals(0.0, a.fraction(Double.NaN));
        assertEquals(0.0, a.fraction(-1));
    }

    @Test
    void writesAReadablePngWithLongerBarsForLongerTimes(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("c.png");
        BarChart.write(sample(), png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(BarChart.WIDTH, img.getWidth());
        assertEquals(BarChart.TOP + 4 * (2 * BarChart.BAR_HEIGHT + BarChart.GROUP_GAP) + BarChart.BOTTOM, img.getHeight());
        int groupHeight = 2 * BarChart.BAR_HEIGHT + BarChart.GROUP_GAP;
        int localReady = barLength(img, BarChart.TOP + BarChart.BAR_HEIGHT / 2);
        int bmcastReady = barLength(img, BarChart.TOP + 3 * groupHeight + BarChart.BAR_HEIGHT / 2);
        int bmcastLocal = barLength(img, BarChart.TOP + 3 * groupHeight + BarChart.BAR_HEIGHT * 3 / 2);
        int fullReady = barLength(img, BarChart.TOP + groupHeight + BarChart.BAR_HEIGHT / 2);
        assertTrue(localReady > 0 && bmcastReady >= localReady, localReady + " vs " + bmcastReady);
        assertTrue(bmcastLocal > bmcastReady, "90 s drawn longer than 3.2 s");
        assertTrue(fullReady > bmcastLocal, "2750 s drawn longer than 90 s");
        assertEquals(0, barLength(img, BarChart.TOP + 2 * groupHeight + BarChart.BAR_HEIGHT * 3 / 2), "n/a has no bar");
    }

    @Test
    void rejectsGroupsWithTheWrongNumberOfBars() {
        assertThrows(IllegalArgumentException.class, () -> new BarChart.Chart("t", null, List.of("a", "b"),
                List.of(new BarChart.Group("x", List.of(new BarChart.Bar(1, false))))));
    }

    /** Coloured (non-grey) pixels from the plot's left edge along row {@code y}. */
    private static int barLength(BufferedImage img, int y) {
        int n = 0;
        for (int x = BarChart.LEFT; x < img.getWidth(); x++) {
            int rgb = img.getRGB(x, y);
            int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
            boolean grey = Math.abs(r - g) < 12 && Math.abs(g - b) < 12;
            if (grey) break;
            n++;
        }
        return n;
    }
}
