package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.util.Jackson;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code bench nbd --repeat 2} at a tiny size and run time, against the real peers (fio, nbdkit, qemu-nbd and our
 * server as its own process): the servers take turns, every workload has a figure for every run of every server,
 * and the table prints medians with min-max. No timing is asserted.
 */
class NbdBenchTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void twoInterleavedRunsOfEveryServerLandInTheTableAndTheJson() throws Exception {
        Path out = tmp.resolve("out");
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int rc;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            rc = new CommandLine(new BenchCommand()).execute("nbd", "--size", "16M", "--runtime", "1s", "--repeat", "2",
                    "--dir", tmp.resolve("work").toString(), "--out", out.toString());
        } finally {
            System.setOut(stdout);
        }
        String table = captured.toString(StandardCharsets.UTF_8);
        stdout.print(table);
        assertEquals(0, rc, table);
        for (BenchCommand.Workload wl : BenchCommand.WORKLOADS) {
            String row = table.lines().filter(l -> l.startsWith(wl.label())).findFirst().orElseThrow(() -> new AssertionError(table));
            assertTrue(row.matches(".*\\(.*-.*\\).*\\(.*-.*\\).*\\(.*-.*\\).*x.*x\\s*"), "three medians with min-max, two ratios: " + row);
        }
        assertTrue(table.contains("median of 2 interleaved runs"), table);

        JsonNode doc = Jackson.MAPPER.readTree(Files.readString(out.resolve("results.json")));
        List<String> order = new ArrayList<>();
        doc.path("order").forEach(n -> order.add(n.asText()));
        assertEquals(List.of("bmcast#1", "nbdkit#1", "qemu-nbd#1", "bmcast#2", "nbdkit#2", "qemu-nbd#2"), order);
        assertEquals(BenchCommand.WORKLOADS.size(), doc.path("workloads").size());
        for (JsonNode w : doc.path("workloads")) {
            for (String server : List.of("bmcast", "nbdkit", "qemu-nbd")) {
                JsonNode s = w.path("servers").path(server);
                assertEquals(2, s.path("samples").size(), w.toString());
                assertEquals(2, s.path("cpuSamples").size(), w.toString());
                for (JsonNode c : s.path("cpuSamples")) assertTrue(c.isNumber() && c.asDouble() >= 0, "the server's CPU was read: " + w);
                for (JsonNode v : s.path("samples")) assertTrue(v.isNumber() && v.asDouble() > 0, w.toString());
                assertTrue(s.path("min").asDouble() <= s.path("median").asDouble()
                        && s.path("median").asDouble() <= s.path("max").asDouble(), w.toString());
            }
            assertTrue(w.path("ratioOfMedians").path("nbdkit").isNumber(), w.toString());
        }
        assertTrue(doc.path("peakRssKb").path("bmcast").asLong() > 0, doc.toString());
        assertTrue(Files.readString(out.resolve("table.txt")).contains("rand read 4 KiB QD32"));
    }
}
