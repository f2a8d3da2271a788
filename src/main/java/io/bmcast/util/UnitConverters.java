package io.bmcast.util;

import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The command line's quantities, one converter per kind, all over {@link Units}: every command reads
 * {@code --memory 512M}, {@code --rate 1Gbit} and {@code --latency 200us} the same way, and refuses the same
 * ambiguous input with the same sentence.
 */
public final class UnitConverters {
    private UnitConverters() {}

    /** A byte count: {@code 4096}, {@code 64K}, {@code 32G}. */
    public static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String text) {
            try {
                return Units.parseSize(text);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** Bytes per second from a bit rate ({@code 1Gbit}) or a byte rate with its unit ({@code 125MB/s}). */
    public static final class RateConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String text) {
            try {
                return Units.parseRate(text);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** A duration with its unit: {@code 200us}, {@code 2s}, {@code 5m}. */
    public static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String text) {
            try {
                return Duration.ofNanos(Units.parseDurationNanos(text));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** A fraction of something, 0 to 1: {@code 0.05} or {@code 5%}. */
    public static final class FractionConverter implements ITypeConverter<Double> {
        @Override
        public Double convert(String text) {
            String t = text.trim();
            boolean percent = t.endsWith("%");
            double v;
            try {
                v = Double.parseDouble(percent ? t.substring(0, t.length() - 1).trim() : t);
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + text + "' is not a fraction (0.05 or 5%)");
            }
            if (percent) v /= 100;
            if (!(v >= 0 && v <= 1)) throw new TypeConversionException("'" + text + "' is not between 0 and 1 (0% and 100%)");
            return v;
        }
    }
}
