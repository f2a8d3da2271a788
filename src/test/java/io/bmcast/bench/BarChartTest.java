package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    @Test
    void aWhiskerSpansTheRunsMinToMaxAcrossTheMedianBar(@TempDir Path dir) throws Exception {
        BarChart.Chart c = new BarChart.Chart("startup", null, List.of("ready"), List.of(
                new BarChart.Group("bmcast", List.of(new BarChart.Bar(10, false, 5, 50))),
                new BarChart.Group("local", List.of(new BarChart.Bar(10, false)))));
        assertEquals(0, BarChart.axisFor(c).lowDecade());
        assertEquals(2, BarChart.axisFor(c).highDecade(), "the axis covers the whisker's max");
        Path png = dir.resolve("w.png");
        BarChart.write(c, png);
        BufferedImage img = ImageIO.read(png.toFile());
        int plotW = BarChart.WIDTH - BarChart.LEFT - BarChart.RIGHT;
        int mid = BarChart.TOP + BarChart.BAR_HEIGHT / 2;
        int barEnd = BarChart.LEFT + plotW / 2; // 10 s on a 1..100 s axis
        int maxX = BarChart.LEFT + (int) Math.round(Math.log10(50) / 2 * plotW);
        assertTrue(Math.abs(barLength(img, BarChart.TOP + 2) - plotW / 2) <= 3, "the median bar, along its top row (the caps stop short of it)");
        int dark = 0;
        for (int x = barEnd + 3; x < maxX - 2; x++) if (isDark(img.getRGB(x, mid))) dark++;
        assertTrue(dark >= maxX - barEnd - 6, "the whisker runs on past the bar to the max: " + dark);
        assertTrue(isDark(img.getRGB(maxX, mid - 4)), "cap at the max");
        int below = BarChart.TOP + BarChart.BAR_HEIGHT + BarChart.GROUP_GAP + BarChart.BAR_HEIGHT / 2;
        for (int x = barEnd + 80; x < maxX - 2; x++) { // past the "10.0 s" label
            assertFalse(isDark(img.getRGB(x, below)) && isDark(img.getRGB(x + 1, below)) && isDark(img.getRGB(x + 2, below)),
                    "one run, no whisker, only a label");
        }
    }

    /** The fanout bench's subtitle runs to ~300 characters: it wraps, every word shows, and the plot moves down for it. */
    @Test
    void aLongSubtitleWrapsWithinTheImageAndPushesThePlotDown(@TempDir Path dir) throws Exception {
        String subtitle = "busybox guest (1.0 GiB image, 17.2 MiB of data, 17.2 MiB stored; working set 2.1 MiB in 9 chunks of "
                + "1.0 MiB), pace recorded (212 reads over the guest's 9.87 s), store link 1.0 Gbit/s + 1 ms latency, node links "
                + "10 Gbit/s, store cap 4 per node, 0 real guests ran (boot trace /home/someone/.cache/bmcast/traces/busybox.profile)";
        BarChart.Chart c = new BarChart.Chart("Fleet launch", subtitle, List.of("with peers", "store only"), List.of(
                new BarChart.Group("N=1", List.of(new BarChart.Bar(1, false), new BarChart.Bar(2, false)))));
        java.awt.image.BufferedImage probe = new java.awt.image.BufferedImage(1, 1, java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = probe.createGraphics();
        java.awt.FontMetrics fm = g.getFontMetrics(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.PLAIN, 13));
        g.dispose();
        List<String> lines = BarChart.subtitleLines(subtitle, fm);
        assertTrue(lines.size() >= 2, lines.toString());
        assertEquals(subtitle, String.join(" ", lines), "every word shows, in order");
        for (String line : lines) assertTrue(BarChart.LEFT + fm.stringWidth(line) < BarChart.WIDTH, "fits: " + line);
        Path png = dir.resolve("long.png");
        BarChart.write(c, png);
        BufferedImage img = ImageIO.read(png.toFile());
        int extra = (lines.size() - 1) * BarChart.SUBTITLE_LINE;
        assertEquals(BarChart.TOP + extra + 2 * BarChart.BAR_HEIGHT + BarChart.GROUP_GAP + BarChart.BOTTOM, img.getHeight());
        assertTrue(barLength(img, BarChart.TOP + extra + BarChart.BAR_HEIGHT / 2) > 0, "the first bar sits below the subtitle");
        for (int y = 30; y < BarChart.TOP + extra - 10; y++) {
            assertFalse(isDark(img.getRGB(BarChart.WIDTH - 2, y)), "nothing drawn to the right edge (cut) at y=" + y);
        }
    }

    private static boolean isDark(int rgb) {
        int r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
        return r < 80 && g < 80 && b < 80;
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
