package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LineChartTest {
    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    @Test
    void niceCeilingsAreOneTwoOrFiveTimesAPowerOfTen() {
        assertEquals(100, LineChart.niceCeiling(73), 1e-9);
        assertEquals(200, LineChart.niceCeiling(101), 1e-9);
        assertEquals(0.5, LineChart.niceCeiling(0.31), 1e-9);
        assertEquals(10, LineChart.niceCeiling(10), 1e-9);
    }

    @Test
    void drawsEachSeriesInItsColourAtItsHeight(@TempDir Path dir) throws Exception {
        // local at 100 the whole time, bmcast at 50: bmcast's line lies lower (larger y) than local's
        // local at 100 every second; bmcast at 50 for two runs with a pause between them (20..80 s: no line)
        List<double[]> localPoints = new java.util.ArrayList<>(), bmcastPoints = new java.util.ArrayList<>();
        for (int t = 0; t <= 100; t++) {
            localPoints.add(new double[] {t, 100});
            if (t <= 20 || t >= 80) bmcastPoints.add(new double[] {t, 50});
        }
        LineChart.Series local = new LineChart.Series("local", localPoints);
        LineChart.Series bmcast = new LineChart.Series("bmcast", bmcastPoints);
        LineChart.Chart c = new LineChart.Chart("t", "s", "seconds", List.of(new LineChart.Panel("tps",
                List.of(local, bmcast), List.of(new LineChart.Marker("de-virtualized", 60, 1)))));
        Path png = dir.resolve("c.png");
        LineChart.write(c, png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(LineChart.WIDTH, img.getWidth());
        int plotW = LineChart.WIDTH - LineChart.LEFT - LineChart.RIGHT;
        int x = LineChart.LEFT + plotW / 10; // 10 s of a 100 s axis
        int localY = rowOf(img, x, BarChart.PALETTE[0].getRGB());
        int bmcastY = rowOf(img, x, BarChart.PALETTE[1].getRGB());
        assertTrue(localY > 0 && bmcastY > localY, "local at y=" + localY + ", bmcast at y=" + bmcastY);
        int bottom = LineChart.TOP + LineChart.PANEL_HEIGHT;
        // y axis tops out at 200 (100 * 1.1 rounded up): 100 sits half way up, 50 a quarter
        assertEquals(bottom - LineChart.PANEL_HEIGHT / 2, localY, 2);
        assertEquals(bottom - LineChart.PANEL_HEIGHT / 4, bmcastY, 2);
        assertEquals(-1, rowOf(img, LineChart.LEFT + plotW / 2, BarChart.PALETTE[1].getRGB()), "no line across the pause");
    }

    /** The first row at column {@code x} (inside the plot) with exactly {@code rgb}, or -1. */
    private static int rowOf(BufferedImage img, int x, int rgb) {
        for (int y = LineChart.TOP; y < LineChart.TOP + LineChart.PANEL_HEIGHT + 1; y++) {
            if ((img.getRGB(x, y) & 0xffffff) == (rgb & 0xffffff)) return y;
        }
        return -1;
    }
}
