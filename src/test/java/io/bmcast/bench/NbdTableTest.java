package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.Jackson;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NbdTableTest {
    private static final List<String> SERVERS = List.of("bmcast", "nbdkit", "qemu-nbd");

    /** Three runs: bmcast's second write is a slow outlier, qemu-nbd's third random read failed. */
    private static NbdTable sample() {
        NbdTable t = new NbdTable(BenchCommand.WORKLOADS, SERVERS, 3);
        double[][][] v = {
            {{2.4e9, 2.5e9, 2.3e9}, {1.5e9, 1.6e9, 1.4e9}, {1.0e9, 1.0e9, 1.0e9}},
            {{2.6e9, 0.9e9, 2.5e9}, {2.0e9, 2.1e9, 1.9e9}, {0.8e9, 0.8e9, 0.8e9}},
            {{70e3, 72e3, 71e3}, {70e3, 71e3, 72e3}, {30e3, 32e3, Double.NaN}},
        };
        for (int w = 0; w < 3; w++) for (int p = 0; p < 3; p++) for (int r = 1; r <= 3; r++) t.add(w, p, r, v[w][p][r - 1]);
        t.peakRss(0, 100 * 1024);
        t.peakRss(0, 140 * 1024);
        t.peakRss(1, 20 * 1024);
        return t;
    }

    @Test
    void ratiosAreOfMediansSoOneSlowRunDoesNotDecide() {
        NbdTable t = sample();
        assertEquals(2.5e9 / 2.0e9, t.ratio(1, 1), 1e-9, "seq write: bmcast's 0.9 GB/s run is outvoted");
        assertEquals(2.4e9 / 1.5e9, t.ratio(0, 1), 1e-9);
        assertEquals(71e3 / 31e3, t.ratio(2, 2), 1e-9, "a failed run counts in no median");
    }

    @Test
    void tableShowsMedianWithMinMaxAndMarksFailedRuns() {
        String text = sample().format();
        String write = line(text, "seq write");
        assertTrue(write.contains("2.50 (0.90-2.60) GB/s"), write);
        assertTrue(write.contains("1.25x"), write);
        String rand = line(text, "rand read");
        assertTrue(rand.contains("31.0 (30.0-32.0)k IOPS !1"), rand);
        assertTrue(line(text, "peak RSS").contains("140 MiB"), "the largest peak over the runs");
        assertTrue(text.contains("median of 3 interleaved runs"), text);
        assertFalse(sample().complete());
    }

    @Test
    void oneRunKeepsTheSingleFigureTable() {
        NbdTable t = new NbdTable(BenchCommand.WORKLOADS, SERVERS, 1);
        for (int w = 0; w < 3; w++) for (int p = 0; p < 3; p++) t.add(w, p, 1, (p + 1) * 1e9);
        String text = t.format();
        assertTrue(line(text, "seq read").contains("1.00 GB/s"), text);
        assertFalse(line(text, "seq read").contains("("), "no min-max with one run: " + text);
        assertEquals(0.5, t.ratio(0, 1), 1e-9);
        assertTrue(t.complete());
    }

    @Test
    void jsonKeepsEverySampleInRunOrder() throws Exception {
        List<Map<String, Object>> rows = sample().toJson();
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> servers = (Map<String, Map<String, Object>>) rows.get(1).get("servers");
        assertEquals(Arrays.asList(2.6e9, 0.9e9, 2.5e9), servers.get("bmcast").get("samples"));
        assertEquals(2.5e9, servers.get("bmcast").get("median"));
        assertEquals(0.9e9, servers.get("bmcast").get("min"));
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> rand = (Map<String, Map<String, Object>>) rows.get(2).get("servers");
        assertNull(((List<?>) rand.get("qemu-nbd").get("samples")).get(2));
        assertEquals(Map.of("nbdkit", 1.25, "qemu-nbd", 3.125), rows.get(1).get("ratioOfMedians"));
        assertEquals("IOPS", rows.get(2).get("unit"));
        Jackson.MAPPER.writeValueAsString(Map.of("workloads", rows)); // serializable as is
    }

    @Test
    void cpuIsPerGigabyteOrPerRequestAndComparedByMedians() {
        NbdTable t = new NbdTable(BenchCommand.WORKLOADS, SERVERS, 2);
        t.add(0, 0, 1, 2e9);
        t.addCpu(0, 0, 1, 0.5); // half a core for 2 GB/s
        t.add(0, 0, 2, 1e9);
        t.addCpu(0, 0, 2, 0.5);
        t.add(0, 1, 1, 1e9);
        t.addCpu(0, 1, 1, 0.2);
        t.add(2, 0, 1, 50e3);
        t.addCpu(2, 0, 1, 1.0); // a whole core for 50k requests/s
        t.addCpu(1, 0, 1, 1.0); // no figure for that run: no cost either
        assertEquals(250, t.cpuSpread(0, 0).min(), 1e-9);
        assertEquals(500, t.cpuSpread(0, 0).max(), 1e-9);
        assertEquals(375, t.cpuSpread(0, 0).median(), 1e-9);
        assertEquals(20, t.cpuSpread(2, 0).median(), 1e-9);
        assertFalse(t.cpuSpread(1, 0).present());
        String text = t.format();
        String row = line(text, "  seq read");
        assertTrue(row.contains("375 (250-500) ms/GB") && row.contains("200 (200-200) ms/GB") && row.contains("1.88x"), row);
        assertTrue(line(text, "  rand read").contains("20.0 (20.0-20.0) us/req"), text);
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> servers = (Map<String, Map<String, Object>>) t.toJson().get(0).get("servers");
        assertEquals(Arrays.asList(250.0, 500.0), servers.get("bmcast").get("cpuSamples"));
        assertEquals("ms per GB", servers.get("bmcast").get("cpuPerUnit"));
    }

    private static String line(String text, String start) {
        for (String l : text.split("\n")) if (l.startsWith(start)) return l;
        throw new AssertionError("no row " + start + " in\n" + text);
    }
}
