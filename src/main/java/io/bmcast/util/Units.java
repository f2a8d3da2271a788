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
        if (i == 0) throw new IllegalArgumentException("'" + text + "' is not a size (write it as 4096, 64K, 512M or 32G)");
        double value = number(text, s.substring(0, i), "size");
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
     * A rate in bytes per second: a bit rate ({@code 200Mbit}, {@code 1Gbit}, {@code 10Gbit}, {@code 800kbit},
     * {@code 1Gbps}) or a byte rate with an explicit byte unit ({@code 125MB/s}, {@code 64KiB/s}, {@code 4096B/s};
     * {@code /s} optional). A bare number or a bare multiplier ({@code 1G}, {@code 500M}) is refused: whether it
     * counts bits or bytes, and in powers of 1000 or 1024, is a factor of up to 8.6 nobody should have to guess.
     */
    public static long parseRate(String text) {
        String s = text.trim();
        int i = numberEnd(s);
        if (i == 0) throw new IllegalArgumentException("'" + text + "' is not a rate (write it as 200Mbit, 1Gbit or 125MB/s)");
        double value = number(text, s.substring(0, i), "rate");
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
                default -> throw new IllegalArgumentException("unknown rate unit in '" + text + "' (use kbit, Mbit, Gbit or Tbit)");
            };
            bytesPerSec = value * mult / 8;
        } else {
            bytesPerSec = value * switch (u.endsWith("ib") ? u : unit) {
                case "B" -> 1;
                case "kB", "KB" -> 1e3;
                case "MB" -> 1e6;
                case "GB" -> 1e9;
                case "kib" -> 1024;
                case "mib" -> 1024 * 1024;
                case "gib" -> 1024 * 1024 * 1024;
                case "", "k", "K", "m", "M", "g", "G", "t", "T", "b", "kb", "mb", "gb" ->
                        throw new IllegalArgumentException(ambiguousRate(text, s.substring(0, i), u.isEmpty() ? "" : u.substring(0, 1)));
                default -> throw new IllegalArgumentException("unknown rate unit in '" + text + "' (write it as 200Mbit, 1Gbit or 125MB/s)");
            };
        }
        if (!(bytesPerSec >= 1) || bytesPerSec > Long.MAX_VALUE) {
            throw new IllegalArgumentException("'" + text.trim() + "' is out of range for a rate (at least 1 B/s)");
        }
        return (long) bytesPerSec;
    }

    /** What to write instead of {@code 1G}: {@code 1Gbit}, {@code 1GB/s} or {@code 1GiB/s}. */
    private static String ambiguousRate(String text, String number, String prefix) {
        String p = prefix.equals("b") ? "" : prefix;
        String bits = number + (p.equals("k") ? "k" : p.toUpperCase(Locale.ROOT)) + "bit";
        String decimalBytes = number + (p.equals("k") ? "k" : p.toUpperCase(Locale.ROOT)) + "B/s";
        String suggestion = p.isEmpty() ? bits + " or " + decimalBytes
                : bits + ", " + decimalBytes + " or " + number + p.toUpperCase(Locale.ROOT) + "iB/s";
        return "'" + text.trim() + "' is ambiguous as a rate (bits or bytes per second?): write " + suggestion;
    }

    /**
     * A duration in nanoseconds: {@code 200us}, {@code 1.5ms}, {@code 2s}, {@code 500ns}, {@code 1m}. A bare number
     * is refused: {@code 200} could be microseconds as well as seconds.
     */
    public static long parseDurationNanos(String text) {
        String s = text.trim();
        int i = numberEnd(s);
        if (i == 0) throw new IllegalArgumentException("'" + text + "' is not a duration (write it as 200us, 10ms or 2s)");
        double value = number(text, s.substring(0, i), "duration");
        double mult = switch (s.substring(i).trim().toLowerCase(Locale.ROOT)) {
            case "ns" -> 1;
            case "us", "µs" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "" -> throw new IllegalArgumentException("'" + text.trim() + "' has no unit: write a duration such as "
                    + s.substring(0, i) + "s, " + s.substring(0, i) + "ms or " + s.substring(0, i) + "us");
            case "m", "min" -> 60e9;
            case "h" -> 3600e9;
            case "d" -> 86_400e9;
            default -> throw new IllegalArgumentException("unknown duration unit in '" + text + "' (use ns, us, ms, s, m, h or d)");
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

    private static double number(String text, String digits, String kind) {
        try {
            return Double.parseDouble(digits);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text.trim() + "' is not a " + kind + ": '" + digits + "' is not a number");
        }
    }

    private static int numberEnd(String s) {
        int i = 0;
        while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) i++;
        return i;
    }
}
