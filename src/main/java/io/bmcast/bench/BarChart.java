package io.bmcast.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * A horizontal grouped bar chart on a logarithmic time axis, drawn with Java2D into a PNG (headless; no
 * third-party libraries). A log axis because the figures span three orders of magnitude: a 3 s local boot and a
 * 45 min full image copy must both be readable on one chart.
 *
 * <p>Each group is one mode; each series one bar in every group (e.g. time to ready, time until local). A value
 * that is {@link Double#NaN} is drawn as "n/a", a negative one as "failed", an estimated one hatched. A bar with
 * a min-max (the median of repeated runs) gets a whisker: a black line from min to max with end caps.
 */
public final class BarChart {
    /**
     * One bar: a value in seconds (a median, with repeated runs), whether it was extrapolated rather than
     * measured, and the runs' min-max, drawn as a whisker across the bar's end (NaN: one run, no whisker).
     */
    public record Bar(double value, boolean estimated, double min, double max) {
        public Bar(double value, boolean estimated) {
            this(value, estimated, Double.NaN, Double.NaN);
        }

        boolean hasWhisker() {
            return min > 0 && max >= min;
        }
    }

    /** One group of bars (one per series), under a label. */
    public record Group(String label, List<Bar> bars) {}

    public record Chart(String title, String subtitle, List<String> series, List<Group> groups, String axisLabel, String unit) {
        /** A chart of seconds from the start of each mode (the startup benchmark's axis). */
        public Chart(String title, String subtitle, List<String> series, List<Group> groups) {
            this(title, subtitle, series, groups, "seconds from the start of each mode (log scale)");
        }

        /** A chart of seconds, labelled "12.3 s". */
        public Chart(String title, String subtitle, List<String> series, List<Group> groups, String axisLabel) {
            this(title, subtitle, series, groups, axisLabel, "s");
        }

        public Chart {
            series = List.copyOf(series);
            groups = List.copyOf(groups);
            for (Group g : groups) {
                if (g.bars().size() != series.size()) {
                    throw new IllegalArgumentException(g.label() + ": " + g.bars().size() + " bars for "
                            + series.size() + " series");
                }
            }
        }
    }

    static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728)};
    static final Color BACKGROUND = Color.WHITE;
    static final Color WHISKER = Color.BLACK;
    static final int WIDTH = 1000;
    static final int LEFT = 130;
    static final int RIGHT = 110;
    static final int TOP = 80;
    static final int BAR_HEIGHT = 18;
    static final int GROUP_GAP = 16;
    static final int BOTTOM = 70;

    private BarChart() {}

    /** A log10 axis from a power of ten at or below {@code min} to one at or above {@code max}. */
    record LogAxis(double lowDecade, double highDecade) {
        static LogAxis covering(double min, double max) {
            double lo = Math.floor(Math.log10(Math.max(min, 1e-3)));
            double hi = Math.ceil(Math.log10(Math.max(max, 1e-3)));
            if (hi <= lo) hi = lo + 1;
            return new LogAxis(lo, hi);
        }

        /** Where {@code v} falls, 0..1 (clamped). */
        double fraction(double v) {
            if (!(v > 0)) return 0;
            double f = (Math.log10(v) - lowDecade) / (highDecade - lowDecade);
            return Math.max(0, Math.min(1, f));
        }
    }

    static LogAxis axisFor(Chart c) {
        double min = Double.POSITIVE_INFINITY, max = 0;
        for (Group g : c.groups()) {
            for (Bar b : g.bars()) {
                if (b.value() > 0) {
                    min = Math.min(min, b.value());
                    max = Math.max(max, b.value());
                }
                if (b.hasWhisker()) {
                    min = Math.min(min, b.min());
                    max = Math.max(max, b.max());
                }
            }
        }
        if (max == 0) return new LogAxis(0, 1);
        return LogAxis.covering(min, max);
    }

    /** The subtitle's lines: what fits between the title's left edge and the image's right margin, broken at spaces. */
    static List<String> subtitleLines(String subtitle, FontMetrics fm) {
        if (subtitle == null) return List.of();
        int width = WIDTH - LEFT - 20;
        List<String> lines = new java.util.ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : subtitle.split(" ")) {
            if (!line.isEmpty() && fm.stringWidth(line + " " + word) > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            if (!line.isEmpty()) line.append(' ');
            line.append(word);
        }
        if (!line.isEmpty()) lines.add(line.toString());
        return lines;
    }

    private static final Font BASE = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
    static final int SUBTITLE_LINE = 16;

    public static BufferedImage render(Chart c) {
        int groupHeight = c.series().size() * BAR_HEIGHT + GROUP_GAP;
        List<String> subtitle;
        Graphics2D probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        try {
            subtitle = subtitleLines(c.subtitle(), probe.getFontMetrics(BASE));
        } finally {
            probe.dispose();
        }
        // A subtitle longer than one line pushes the legend and the plot down by its extra lines.
        int extra = Math.max(0, subtitle.size() - 1) * SUBTITLE_LINE;
        int top = TOP + extra;
        int height = top + c.groups().size() * groupHeight + BOTTOM;
        BufferedImage img = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(BACKGROUND);
            g.fillRect(0, 0, WIDTH, height);
            Font base = BASE;
            g.setFont(base.deriveFont(Font.BOLD, 16f));
            g.setColor(Color.BLACK);
            g.drawString(c.title(), LEFT, 26);
            g.setFont(base);
            g.setColor(Color.DARK_GRAY);
            for (int i = 0; i < subtitle.size(); i++) g.drawString(subtitle.get(i), LEFT, 46 + i * SUBTITLE_LINE);

            LogAxis axis = axisFor(c);
            int plotW = WIDTH - LEFT - RIGHT;
            int plotBottom = top + c.groups().size() * groupHeight;
            // grid: decades and the 2x/5x marks between them
            g.setFont(base.deriveFont(11f));
            FontMetrics fm = g.getFontMetrics();
            for (double d = axis.lowDecade(); d <= axis.highDecade(); d++) {
                for (int m : new int[] {1, 2, 5}) {
                    double v = m * Math.pow(10, d);
                    if (Math.log10(v) > axis.highDecade() + 1e-9) continue;
                    int x = LEFT + (int) Math.round(axis.fraction(v) * plotW);
                    g.setColor(m == 1 ? new Color(0xbbbbbb) : new Color(0xe6e6e6));
                    g.drawLine(x, top - 6, x, plotBottom);
                    String label = tick(v);
                    g.setColor(Color.DARK_GRAY);
                    g.drawString(label, x - fm.stringWidth(label) / 2, plotBottom + 16);
                }
            }
            g.setFont(base);
            String axisLabel = c.axisLabel();
            g.drawString(axisLabel, LEFT + (plotW - g.getFontMetrics().stringWidth(axisLabel)) / 2, plotBottom + 36);

            int y = top;
            for (Group grp : c.groups()) {
                g.setColor(Color.BLACK);
                g.setFont(base.deriveFont(Font.BOLD));
                FontMetrics gm = g.getFontMetrics();
                int mid = y + c.series().size() * BAR_HEIGHT / 2 + gm.getAscent() / 2 - 2;
                g.drawString(grp.label(), LEFT - 10 - gm.stringWidth(grp.label()), mid);
                g.setFont(base.deriveFont(11f));
                for (int s = 0; s < c.series().size(); s++) {
                    Bar bar = grp.bars().get(s);
                    int by = y + s * BAR_HEIGHT;
                    Color col = PALETTE[s % PALETTE.length];
                    String text;
                    int end = LEFT;
                    if (Double.isNaN(bar.value())) {
                        text = "n/a";
                    } else if (bar.value() < 0) {
                        text = "failed";
                    } else {
                        end = LEFT + Math.max(2, (int) Math.round(axis.fraction(bar.value()) * plotW));
                        g.setColor(bar.estimated() ? lighter(col) : col);
                        g.fillRect(LEFT, by + 2, end - LEFT, BAR_HEIGHT - 4);
                        if (bar.estimated()) hatch(g, LEFT, by + 2, end - LEFT, BAR_HEIGHT - 4, col);
                        text = (bar.estimated() ? "~" : "") + value(bar.value(), c.unit()) + (bar.estimated() ? " (est.)" : "");
                        if (bar.hasWhisker()) {
                            int x0 = LEFT + (int) Math.round(axis.fraction(bar.min()) * plotW);
                            int x1 = LEFT + (int) Math.round(axis.fraction(bar.max()) * plotW);
                            whisker(g, x0, x1, by + BAR_HEIGHT / 2, BAR_HEIGHT - 6);
                            text += " (" + range(bar.min(), bar.max(), c.unit()) + ")";
                            end = Math.max(end, x1);
                        }
                    }
                    g.setColor(Color.BLACK);
                    g.drawString(text, end + 5, by + BAR_HEIGHT - 5);
                }
                y += groupHeight;
            }
            // legend, top right
            int lx = WIDTH - RIGHT - 10;
            g.setFont(base);
            FontMetrics lm = g.getFontMetrics();
            for (int s = c.series().size() - 1; s >= 0; s--) {
                String name = c.series().get(s);
                lx -= lm.stringWidth(name) + 30;
                g.setColor(PALETTE[s % PALETTE.length]);
                g.fillRect(lx, 54 + extra, 14, 12);
                g.setColor(Color.BLACK);
                g.drawString(name, lx + 18, 65 + extra);
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    public static void write(Chart c, Path png) throws IOException {
        if (!ImageIO.write(render(c), "png", png.toFile())) throw new IOException("no PNG writer in this JDK");
    }

    static String tick(double v) {
        if (v >= 1) return String.format(Locale.ROOT, "%.0f", v);
        return String.format(Locale.ROOT, "%s", Double.toString(v).replaceAll("0+$", ""));
    }

    static String seconds(double v) {
        return value(v, "s");
    }

    /** {@code v} with its unit ("12.3 s", "8.08x"): no space before a unit of one non-letter such as "x". */
    static String value(double v, String unit) {
        String n = String.format(Locale.ROOT, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
        return unit.isEmpty() ? n : Character.isLetter(unit.charAt(0)) && !unit.equals("x") ? n + " " + unit : n + unit;
    }

    static String range(double min, double max) {
        return range(min, max, "s");
    }

    static String range(double min, double max, String unit) {
        return value(min, "") + "-" + value(max, unit);
    }

    /** A min-max whisker centred on {@code y}: the line, then a cap of {@code capHeight} at each end. */
    private static void whisker(Graphics2D g, int x0, int x1, int y, int capHeight) {
        Graphics2D w = (Graphics2D) g.create();
        try {
            w.setColor(WHISKER);
            w.setStroke(new BasicStroke(1.5f));
            w.drawLine(x0, y, x1, y);
            w.drawLine(x0, y - capHeight / 2, x0, y + capHeight / 2);
            w.drawLine(x1, y - capHeight / 2, x1, y + capHeight / 2);
        } finally {
            w.dispose();
        }
    }

    private static Color lighter(Color c) {
        return new Color((c.getRed() + 2 * 255) / 3, (c.getGreen() + 2 * 255) / 3, (c.getBlue() + 2 * 255) / 3);
    }

    private static void hatch(Graphics2D g, int x, int y, int w, int h, Color col) {
        Graphics2D h2 = (Graphics2D) g.create(x, y, w, h);
        try {
            h2.setColor(col);
            h2.setStroke(new BasicStroke(1.5f));
            for (int i = -h; i < w; i += 7) h2.drawLine(i, h, i + h, 0);
        } finally {
            h2.dispose();
        }
    }
}
