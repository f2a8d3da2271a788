package io.bmcast.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

class UnitsTest {
    @Test
    void ratesSayBitsOrBytes() {
        assertEquals(125_000_000L, Units.parseRate("1Gbit"));
        assertEquals(25_000_000L, Units.parseRate("200Mbit"));
        assertEquals(1_250_000_000L, Units.parseRate("10Gbit"));
        assertEquals(125_000_000L, Units.parseRate("125MB/s"));
        assertEquals(64 * 1024L, Units.parseRate("64KiB/s"));
        assertEquals(4096L, Units.parseRate("4096B"));
        for (String ambiguous : new String[] {"1G", "500M", "64K", "1000", "1gb"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> Units.parseRate(ambiguous), ambiguous);
            assertTrue(e.getMessage().contains("ambiguous") && e.getMessage().contains("write"), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Units.parseRate("1G")).getMessage()
                .contains("1Gbit, 1GB/s or 1GiB/s"));
    }

    @Test
    void durationsNeedAUnit() {
        assertEquals(200_000L, Units.parseDurationNanos("200us"));
        assertEquals(2_000_000_000L, Units.parseDurationNanos("2s"));
        var e = assertThrows(IllegalArgumentException.class, () -> Units.parseDurationNanos("60"));
        assertTrue(e.getMessage().contains("60s"), e.getMessage());
        var size = assertThrows(IllegalArgumentException.class, () -> Units.parseSize("1.2.3G"));
        assertTrue(size.getMessage().contains("not a number"), size.getMessage());
    }

    @Test
    void convertersTurnTheSameSentencesIntoPicocliErrors() {
        assertEquals(64L << 10, new UnitConverters.SizeConverter().convert("64K"));
        assertEquals(Duration.ofMillis(10), new UnitConverters.DurationConverter().convert("10ms"));
        var e = assertThrows(TypeConversionException.class, () -> new UnitConverters.RateConverter().convert("1G"));
        assertTrue(e.getMessage().contains("1Gbit"), e.getMessage());
    }
}
