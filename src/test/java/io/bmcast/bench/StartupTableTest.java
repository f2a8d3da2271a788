package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.Jackson;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StartupTableTest {
    private static final List<ModeResult> ROWS = List.of(
            ModeResult.of("local", 3.0, 0, 0),
            new ModeResult("full-copy", 280, 277, 32L << 30, true, true, Map.of("estimateWindowBytes", 1L << 30)),
            ModeResult.of("remote", 3.3, Double.NaN, 2 << 20),
            new ModeResult("qemu-stream", 3.1, 275, 3L << 30, false, true, Map.of()),
            new ModeResult("sparse-copy", -1, -1, 0, false, false, Map.of("error", "boom")),
            ModeResult.of("bmcast", 3.2, 10, 1L << 30).withExtra("idleLinkUtilization", 0.95));

    @Test
    void ratiosAreAgainstBmcastsTimeToReady() {
        StartupTable t = new StartupTable(ROWS);
        assertEquals(280 / 3.2, t.readyRatio(ROWS.get(1)), 1e-9);
        assertEquals(1.0, t.readyRatio(ROWS.get(5)), 1e-9);
        assertTrue(Double.isNaN(t.readyRatio(ROWS.get(4))), "a failed mode has no ratio");
    }

    @Test
    void noReferenceMeansNoRatios() {
        StartupTable t = new StartupTable(List.of(ModeResult.of("local", 3, 0, 0),
                new ModeResult("bmcast", -1, -1, 0, false, false, Map.of())));
        assertNull(t.reference());
        assertTrue(Double.isNaN(t.readyRatio(t.rows().get(0))));
        assertTrue(t.format().contains("failed"));
        assertTrue(StartupBench.targets(t).contains("never got ready"));
    }

    @Test
    void tableMarksEstimatesNotApplicableAndFailures() {
        String text = new StartupTable(ROWS).format();
        String[] lines = text.split("\n");
        assertTrue(lines[0].startsWith("mode"));
        String full = line(lines, "full-copy");
        assertTrue(full.contains("~280") && full.contains("~277") && full.contains("87.50x"), full);
        String remote = line(lines, "remote");
        assertTrue(remote.contains("n/a"), remote);
        String stream = line(lines, "qemu-stream");
        assertTrue(stream.contains(" 3.10 ") && stream.contains("~275"), "ready measured, local estimated: " + stream);
        assertTrue(line(lines, "sparse-copy").contains("failed"));
        assertTrue(text.contains("~ full-copy estimated") && text.contains("~ qemu-stream local estimated"),
                "each estimate gets its footnote");
        assertFalse(new StartupTable(List.of(ROWS.get(0), ROWS.get(5))).format().contains("estimated"));
        assertFalse(new StartupTable(List.of(ROWS.get(1), ROWS.get(5))).format().contains("qemu-stream"));
    }

    @Test
    void jsonHasNullsWhereThereIsNoFigureAndRoundTrips() throws Exception {
        List<Map<String, Object>> rows = new StartupTable(ROWS).toJson();
        Map<String, Object> remote = rows.get(2);
        assertNull(remote.get("localSeconds"));
        assertEquals(false, remote.get("localApplicable"));
        assertNull(rows.get(4).get("readySeconds"));
        assertEquals("boom", rows.get(4).get("error"));
        assertEquals(true, rows.get(3).get("localEstimated"));
        assertEquals(false, rows.get(3).get("readyEstimated"));
        Object back = Jackson.MAPPER.readValue(Jackson.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(Map.of("modes", rows)), Object.class);
        assertTrue(back instanceof Map<?, ?>);
    }

    @Test
    void targetsAreReportedWithTheirVerdicts() {
        String t = StartupBench.targets(new StartupTable(ROWS));
        assertTrue(t.contains("1.07x") && t.contains("met"), t); // 3.2 / 3.0 <= 1.15
        assertTrue(t.contains("87.5x (est.)"), t);
        assertTrue(t.contains("0.97x  MISSED"), t); // 3.1 / 3.2 < 1: block-stream was sooner
        assertTrue(t.contains("27.50x (est.)  met"), t); // local: 275 / 10
        assertTrue(t.contains("95.0%  met"), t);
    }

    @Test
    void secondsAndRatiosFormat() {
        assertEquals("n/a", StartupTable.seconds(Double.NaN));
        assertEquals("failed", StartupTable.seconds(-1));
        assertEquals("2.50", StartupTable.seconds(2.5));
        assertEquals("2750", StartupTable.seconds(2750.4));
        assertEquals("-", StartupTable.ratio(Double.NaN));
        assertEquals("859x", StartupTable.ratio(859.4));
    }

    private static String line(String[] lines, String mode) {
        for (String l : lines) if (l.startsWith(mode + " ")) return l;
        throw new AssertionError("no row " + mode);
    }
}
