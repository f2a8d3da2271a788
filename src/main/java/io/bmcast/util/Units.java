package io.bmcast.util;

import java.util.Locale;

/**
 * Parses and prints the quantities operators type: sizes ({@code 64K}, {@code 32G}), link rates
 * ({@code 200Mbit}, {@code 1Gbit}, {@code 50MB/s}) and durations ({@code 200us}, {@code 2s}).
 * Binary multiples for sizes (K = 1024), decimal ones for rates (Mbit = 10^6 bit), as networks count.
 */
public final class Units {
    private Units() {}

    /** A byte count: {@code 4096}, {@code 64K}, {@code 64KiB}, {@code 1.5G}, {@code 32GiB}. */
    public static long parseSize(String text) {
        String s = text.trim();
        int i = numberEnd(s);
        if (i == 0) throw new IllegalArgumentException("not a size: '" + text + "'");
        double value = Double.parseDouble(s.substring(0, i));
        String unit = s.substring(i).trim().toUpperCase(Locale.ROOT);
        long mult = switch (unit) {
            case "", "B" -> 1L;
            case "K", "KB", "KIB" -> 1L << 10;
            case "M", "MB", "MIB" -> 1L << 20;
            case "G", "GB", "GIB" -> 1L << 30;
            case "T", "TB", "TIB" -> 1L << 40;
            default -> throw new IllegalArgumentException("unknown size unit in '" + text + "' (use K, M, G or T)");
        };
        double bytes = value * mult;
        if (bytes < 0 || bytes > Long.MAX_VALUE) throw new IllegalArgumentException("size out of range: '" + text + "'");
        return (long) bytes;
    }

    /**
     * A rate in bytes per second: {@code 200Mbit}, {@code 1Gbit}, {@code 10Gbit}, {@code 800kbit}, {@code 125MB/s}
     * ({@code /s} optional, {@code bps} accepted for bit).
     */
    public static long parseRate(String text) {
        String s = text.trim();
        int i = numberEnd(s);
        if (i == 0) throw new IllegalArgumentException("not a rate: '" + text + "'");
        double value = Double.parseDouble(s.substring(0, i));
        String unit = s.substring(i).trim();
        if (unit.endsWith("/s")) unit = unit.substring(0, unit.length() - 2);
        String u = unit.toLowerCase(Locale.ROOT);
        double bytesPerSec;
        if (u.endsWith("bit") || u.endsWith("bps")) {
            double mult = switch (u.substring(0, u.length() - 3)) {
                case "" -> 1;
                case "k" -> 1e3;
                case "m" -> 1e6;
                case "g" -> 1e9;
                case "t" -> 1e12;
                default -> throw new IllegalArgumentException("unknown rate unit in '" + text + "'");
            };
            bytesPerSec = value * mult / 8;
        } else {
            bytesPerSec = value * switch (u) {
                case "", "b" -> 1;
                case "kb" -> 1e3;
                case "mb" -> 1e6;
                case "gb" -> 1e9;
                case "kib", "k" -> 1024;
                case "mib", "m" -> 1024 * 1024;
                case "gib", "g" -> 1024 * 1024 * 1024;
                default -> throw new IllegalArgumentException("unknown rate unit in '" + text + "' (try 200Mbit or 1Gbit)");
            };
        }
        if (!(bytesPerSec >= 1) || bytesPerSec > Long.MAX_VALUE) {
            throw new IllegalArgumentException("rate out of range: '" + text + "'");
        }
        return (long) bytesPerSec;
    }

    /** A duration in nanoseconds: {@code 200us}, {@code 1.5ms}, {@code 2s}, {@code 500ns}, {@code 1m}. */
    public static long parseDurationNanos(String text) {
        String s = text.trim();
        int i = numberEnd(s);
        if (i == 0) throw new IllegalArgumentException("not a duration: '" + text + "'");
        double value = Double.parseDouble(s.substring(0, i));
        double mult = switch (s.substring(i).trim().toLowerCase(Locale.ROOT)) {
            case "ns" -> 1;
            case "us", "µs" -> 1e3;
            case "ms" -> 1e6;
            case "s", "" -> 1e9;
            case "m", "min" -> 60e9;
            case "h" -> 3600e9;
            default -> throw new IllegalArgumentException("unknown duration unit in '" + text + "' (use ns, us, ms, s)");
        };
        double ns = value * mult;
        if (ns < 0 || ns > Long.MAX_VALUE) throw new IllegalArgumentException("duration out of range: '" + text + "'");
        return (long) ns;
    }

    /** {@code 1536} as {@code 1.5 KiB}. */
    public static String formatSize(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }

    /** Bytes per second as a network rate, {@code 125000000} as {@code 1.00 Gbit/s}. */
    public static String formatRate(double bytesPerSec) {
        double bits = bytesPerSec * 8;
        if (bits >= 1e9) return String.format(Locale.ROOT, "%.2f Gbit/s", bits / 1e9);
        if (bits >= 1e6) return String.format(Locale.ROOT, "%.1f Mbit/s", bits / 1e6);
        return String.format(Locale.ROOT, "%.0f kbit/s", bits / 1e3);
    }

    private static int numberEnd(String s) {
        int i = 0;
        while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) i++;
        return i;
    }
}
