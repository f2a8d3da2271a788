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
        assertTrue(t.contains("1.07x") && t.contains("met"), t); // 3.2 / 3.0 <= 1.10
        String slow = StartupBench.targets(new StartupTable(List.of(ModeResult.of("local", 3.0, 0, 0), ModeResult.of("bmcast", 3.4, 9, 1))));
        assertTrue(slow.contains("1.13x  MISSED"), slow); // issue 7: within 10% of a local boot
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

    /** Two modes, three interleaved runs; bmcast's second run hit a slow spell, remote's third failed. */
    private static final List<ModeResult> RUNS = List.of(
            ModeResult.of("local", 3.0, 0, 0), ModeResult.of("remote", 3.6, Double.NaN, 2 << 20),
            ModeResult.of("bmcast", 3.2, 10, 100).withExtra("idleLinkUtilization", 0.9),
            ModeResult.of("local", 3.1, 0, 0), ModeResult.of("remote", 3.4, Double.NaN, 2 << 20),
            ModeResult.of("bmcast", 9.0, 30, 300).withExtra("idleLinkUtilization", 0.5),
            ModeResult.of("local", 2.9, 0, 0),
            new ModeResult("remote", -1, Double.NaN, 0, false, false, Map.of("error", "boom")),
            ModeResult.of("bmcast", 3.3, 12, 200).withExtra("idleLinkUtilization", 0.95));

    @Test
    void repeatedRunsAreSummarizedByTheirMedians() {
        StartupTable t = new StartupTable(RUNS);
        assertEquals(3, t.runs());
        assertEquals(List.of("local", "remote", "bmcast"), t.rows().stream().map(ModeResult::mode).toList());
        ModeResult bmcast = t.reference();
        assertEquals(3.3, bmcast.readySeconds(), 1e-9, "the 9 s run is outvoted");
        assertEquals(12, bmcast.localSeconds(), 1e-9);
        assertEquals(200, bmcast.bytesMoved());
        assertEquals(0.9, (Double) bmcast.extra().get("idleLinkUtilization"), 1e-9);
        ModeResult remote = t.rows().get(1);
        assertEquals(3.5, remote.readySeconds(), 1e-9, "the failed run counts in no median");
        assertEquals(3.0 / 3.3, t.readyRatio(t.rows().get(0)), 1e-9, "ratio of medians");
        StartupTable.Row row = t.samples().get(2);
        assertEquals(3.2, row.ready().min(), 1e-9);
        assertEquals(9.0, row.ready().max(), 1e-9);
        assertEquals(1, t.samples().get(1).ready().failed());
    }

    @Test
    void repeatedTableShowsMinMaxAndFailedRuns() {
        String text = new StartupTable(RUNS).format();
        String[] lines = text.split("\n");
        assertTrue(line(lines, "bmcast").contains("3.30 (3.20-9.00)") && line(lines, "bmcast").contains("12.00 (10.00-30.00)"),
                line(lines, "bmcast"));
        assertTrue(line(lines, "remote").contains("3.50 (3.40-3.60) !1"), line(lines, "remote"));
        assertTrue(line(lines, "local").contains("0.91x"), line(lines, "local"));
        assertTrue(text.contains("median of 3 interleaved runs") && text.contains("!k: k runs failed"), text);
        String targets = StartupBench.targets(new StartupTable(RUNS));
        assertTrue(targets.contains("(medians): 1.10x  met"), "3.3 / 3.0 on medians: " + targets);
    }

    @Test
    void repeatedJsonKeepsEveryRun() throws Exception {
        List<Map<String, Object>> rows = new StartupTable(RUNS).toJson();
        Map<String, Object> bmcast = rows.get(2);
        assertEquals(3.3, bmcast.get("readySeconds"));
        assertEquals(3.2, bmcast.get("readyMinSeconds"));
        assertEquals(9.0, bmcast.get("readyMaxSeconds"));
        assertEquals(30.0, bmcast.get("localMaxSeconds"));
        assertEquals(3, bmcast.get("runs"));
        List<?> samples = (List<?>) bmcast.get("samples");
        assertEquals(List.of(3.2, 9.0, 3.3), samples.stream().map(m -> ((Map<?, ?>) m).get("readySeconds")).toList(),
                "in run order");
        assertEquals(0.5, ((Map<?, ?>) samples.get(1)).get("idleLinkUtilization"));
        Map<String, Object> remote = rows.get(1);
        assertEquals(1, remote.get("failedRuns"));
        assertFalse(remote.containsKey("localMinSeconds"), "remote never makes the disk local");
        assertEquals("boom", ((Map<?, ?>) ((List<?>) remote.get("samples")).get(2)).get("error"));
        Jackson.MAPPER.writeValueAsString(Map.of("modes", rows));
    }

    @Test
    void chartGetsWhiskersOnlyWithRepeats() {
        BarChart.Chart one = StartupBench.chart(new StartupTable(ROWS), "x");
        assertFalse(one.groups().getLast().bars().getFirst().hasWhisker());
        BarChart.Chart many = StartupBench.chart(new StartupTable(RUNS), "x");
        BarChart.Bar ready = many.groups().get(2).bars().getFirst();
        assertEquals(3.3, ready.value(), 1e-9);
        assertEquals(3.2, ready.min(), 1e-9);
        assertEquals(9.0, ready.max(), 1e-9);
        assertTrue(Double.isNaN(many.groups().get(1).bars().get(1).value()), "remote: no local bar");
    }

    private static String line(String[] lines, String mode) {
        for (String l : lines) if (l.startsWith(mode + " ")) return l;
        throw new AssertionError("no row " + mode);
    }
}
