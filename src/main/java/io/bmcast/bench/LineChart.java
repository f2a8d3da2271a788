package io.bmcast.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Throughput over time, one line per series, drawn with Java2D into a PNG in {@link BarChart}'s style (headless, no
 * third-party libraries): the paper's Cassandra figure. Vertical dashed markers name moments on the time axis
 * (bmcast's {@code hydrated} and {@code devirtualized}). Linear axes from zero: a throughput dip must look as deep
 * as it is.
 */
public final class LineChart {
    /** One line: points {@code {seconds, value}} in time order. */
    public record Series(String label, List<double[]> points) {
        public Series {
            points = List.copyOf(points);
        }
    }

    /** A moment on the time axis, drawn in the colour of the series it belongs to. */
    public record Marker(String label, double seconds, int series) {}

    /** One panel: its own y axis. */
    public record Panel(String yLabel, List<Series> series, List<Marker> markers) {
        public Panel {
            series = List.copyOf(series);
            markers = List.copyOf(markers);
        }
    }

    public record Chart(String title, String subtitle, String xLabel, List<Panel> panels) {
        public Chart {
            panels = List.copyOf(panels);
        }
    }

    static final int WIDTH = 1000;
    static final int LEFT = 80;
    static final int RIGHT = 30;
    static final int TOP = 60;
    static final int PANEL_HEIGHT = 260;
    static final int PANEL_GAP = 70;
    static final int BOTTOM = 50;
    /** Points further apart than this are not joined: the series has no figure in between. */
    static final double GAP_SECONDS = 5;

    private LineChart() {}

    public static BufferedImage render(Chart c) {
        int panels = Math.max(1, c.panels().size());
        int height = TOP + panels * PANEL_HEIGHT + (panels - 1) * PANEL_GAP + BOTTOM;
        BufferedImage img = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(BarChart.BACKGROUND);
            g.fillRect(0, 0, WIDTH, height);
            Font base = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
            g.setFont(base.deriveFont(Font.BOLD, 16f));
            g.setColor(Color.BLACK);
            g.drawString(c.title(), LEFT, 24);
            g.setFont(base.deriveFont(11f));
            g.setColor(Color.DARK_GRAY);
            if (c.subtitle() != null) g.drawString(c.subtitle(), LEFT, 42);
            double xMax = 1;
            for (Panel p : c.panels()) {
                for (Series s : p.series()) for (double[] pt : s.points()) xMax = Math.max(xMax, pt[0]);
                for (Marker m : p.markers()) xMax = Math.max(xMax, m.seconds());
            }
            xMax = niceCeiling(xMax);
            int top = TOP;
            for (Panel p : c.panels()) {
                drawPanel(g, base, p, top, xMax, c.xLabel());
                top += PANEL_HEIGHT + PANEL_GAP;
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    private static void drawPanel(Graphics2D g, Font base, Panel p, int top, double xMax, String xLabel) {
        int plotW = WIDTH - LEFT - RIGHT;
        int bottom = top + PANEL_HEIGHT;
        double yMax = 0;
        for (Series s : p.series()) for (double[] pt : s.points()) yMax = Math.max(yMax, pt[1]);
        yMax = niceCeiling(Math.max(yMax * 1.1, 1e-9));
        g.setFont(base.deriveFont(11f));
        FontMetrics fm = g.getFontMetrics();
        for (int i = 0; i <= 5; i++) {
            double v = yMax * i / 5;
            int y = bottom - (int) Math.round(PANEL_HEIGHT * (double) i / 5);
            g.setColor(i == 0 ? new Color(0xbbbbbb) : new Color(0xe6e6e6));
            g.drawLine(LEFT, y, LEFT + plotW, y);
            g.setColor(Color.DARK_GRAY);
            String label = tick(v);
            g.drawString(label, LEFT - 6 - fm.stringWidth(label), y + 4);
            double t = xMax * i / 5;
            int x = LEFT + (int) Math.round(plotW * (double) i / 5);
            g.setColor(new Color(0xe6e6e6));
            if (i > 0) g.drawLine(x, top, x, bottom);
            g.setColor(Color.DARK_GRAY);
            String tl = tick(t);
            g.drawString(tl, x - fm.stringWidth(tl) / 2, bottom + 15);
        }
        g.setFont(base);
        g.setColor(Color.DARK_GRAY);
        g.drawString(xLabel, LEFT + (plotW - g.getFontMetrics().stringWidth(xLabel)) / 2, bottom + 33);
        Graphics2D rot = (Graphics2D) g.create();
        rot.rotate(-Math.PI / 2);
        rot.drawString(p.yLabel(), -(top + PANEL_HEIGHT / 2 + rot.getFontMetrics().stringWidth(p.yLabel()) / 2), 18);
        rot.dispose();

        for (int i = 0; i < p.series().size(); i++) {
            Series s = p.series().get(i);
            if (s.points().isEmpty()) continue;
            Path2D.Double line = new Path2D.Double();
            double last = Double.NaN;
            for (double[] pt : s.points()) {
                double x = LEFT + plotW * pt[0] / xMax;
                double y = bottom - PANEL_HEIGHT * pt[1] / yMax;
                // a pause longer than GAP_SECONDS (between two runs of the workload) is a gap, not a slope
                if (!(pt[0] - last <= GAP_SECONDS)) line.moveTo(x, y);
                else line.lineTo(x, y);
                last = pt[0];
            }
            g.setColor(BarChart.PALETTE[i % BarChart.PALETTE.length]);
            g.setStroke(new BasicStroke(1.8f));
            g.draw(line);
        }
        g.setFont(base.deriveFont(11f));
        int labelRow = 0;
        for (Marker m : p.markers()) {
            int x = LEFT + (int) Math.round(plotW * m.seconds() / xMax);
            Color col = BarChart.PALETTE[m.series() % BarChart.PALETTE.length];
            g.setColor(col);
            g.setStroke(new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {5, 4}, 0));
            g.drawLine(x, top, x, bottom);
            g.setColor(Color.BLACK);
            g.drawString(m.label(), x + 4, top + 12 + 13 * (labelRow++ % 2));
        }
        g.setStroke(new BasicStroke(1f));
        // legend, top right inside the panel
        g.setFont(base);
        FontMetrics lm = g.getFontMetrics();
        int lx = LEFT + plotW - 10;
        for (int i = p.series().size() - 1; i >= 0; i--) {
            String name = p.series().get(i).label();
            lx -= lm.stringWidth(name) + 30;
            g.setColor(BarChart.PALETTE[i % BarChart.PALETTE.length]);
            g.fillRect(lx, top - 16, 14, 10);
            g.setColor(Color.BLACK);
            g.drawString(name, lx + 18, top - 6);
        }
    }

    public static void write(Chart c, Path png) throws IOException {
        if (!ImageIO.write(render(c), "png", png.toFile())) throw new IOException("no PNG writer in this JDK");
    }

    /** The smallest 1, 2 or 5 times a power of ten at or above {@code v}. */
    static double niceCeiling(double v) {
        double decade = Math.pow(10, Math.floor(Math.log10(v)));
        for (int m : new int[] {1, 2, 5, 10}) {
            if (m * decade >= v - 1e-12) return m * decade;
        }
        return 10 * decade;
    }

    static String tick(double v) {
        if (v == Math.rint(v)) return String.format(Locale.ROOT, "%.0f", v);
        return String.format(Locale.ROOT, "%.2f", v).replaceAll("0+$", "");
    }
}
