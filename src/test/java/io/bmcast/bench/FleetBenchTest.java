package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * {@code bench fleet} at tiny sizes (N = 1 and 3, H2, no real guests): the run ends, and its table, results.json
 * and chart hold a row for every (mode, N, launch style) asked for, with figures in them. No timing is asserted.
 */
class FleetBenchTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void tinyRunPrintsEveryRowAndWritesThemToJson() throws Exception {
        Path out = tmp.resolve("out");
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int rc;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            rc = new CommandLine(new BenchCommand()).execute("fleet", "--sizes", "1,3", "--db", "h2", "--no-real", "--repeat", "1",
                    "--ready-after", "1s", "--local-after", "2s", "--out", out.toString());
        } finally {
            System.setOut(stdout);
        }
        String table = captured.toString(StandardCharsets.UTF_8);
        stdout.print(table);
        assertEquals(0, rc, table);

        List<String> expected = List.of("parallel 1 1 request", "parallel 3 3 requests", "parallel 3 1 x --count 3",
                "serialized 1 1 request", "serialized 3 3 requests", "serialized 3 1 x --count 3");
        List<String> rows = new ArrayList<>();
        for (String line : table.lines().toList()) {
            if (line.startsWith("h2 ")) rows.add(line.replaceAll("\\s+", " "));
        }
        for (String e : expected) {
            assertTrue(rows.stream().anyMatch(r -> r.startsWith("h2 " + e + " ") && r.contains("x")), "no row '" + e + "' in:\n" + table);
        }
        assertTrue(table.contains("parallel against serialized"), table);
        assertTrue(table.contains("makespan(3)/makespan(1)"), table);
        assertTrue(table.contains("real mini-fleet") && table.contains("--no-real"), table);

        JsonNode doc = Jackson.MAPPER.readTree(Files.readString(out.resolve("results.json")));
        JsonNode hollow = doc.path("hollow");
        assertEquals(expected.size(), hollow.size(), hollow.toString());
        for (JsonNode row : hollow) {
            assertEquals("h2", row.path("db").asText());
            assertFalse(row.has("notRun"), row.toString());
            assertTrue(row.path("runningSeconds").path("median").isNumber(), row.toString());
            assertTrue(row.path("destroyToAvailableSeconds").path("median").isNumber(), row.toString());
            assertTrue(row.path("scheduledP99Seconds").path("median").isNumber(), row.toString());
            assertTrue(row.path("ratioToN1").isNumber(), row.toString());
        }
        assertEquals(0, doc.path("real").size());
        assertTrue(Files.size(out.resolve("fleet.png")) > 0);
    }
}
