package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.util.Jackson;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench workload} end to end with very short runs: pgbench in the workload guest on a local disk, under bmcast
 * (which must de-virtualize and run it again on the local disk) and remote-only; the table, the JSON of every sample
 * and the PNG come out. The guest is the cached build {@link WorkloadGuestTest} makes (or this test makes it).
 */
class WorkloadBenchTest {
    @TempDir
    Path out;

    @Test
    @Timeout(1800)
    void shortRunOfEveryModeWritesTableJsonAndChart() throws Exception {
        WorkloadBench.Options o = new WorkloadBench.Options(4_000_000_000L / 8, 200_000, 0, WorkloadBench.ALL_MODES,
                List.of("pgbench"), Duration.ofSeconds(4), Duration.ofSeconds(2), 1, out, Duration.ofMinutes(8), 64 << 10,
                io.bmcast.node.MediatorConfig.Hydration.DEFAULT_SHARE);
        assertEquals(0, WorkloadBench.run(o), "every mode ran to the end");

        String table = Files.readString(out.resolve("table.txt"));
        assertTrue(table.contains("pgbench tps") && table.contains("local disk") && table.contains("remote-only"), table);
        assertTrue(table.contains("bmcast, after de-virtualization"), table);

        JsonNode doc = Jackson.MAPPER.readTree(out.resolve("results.json").toFile());
        assertEquals(3, doc.get("runs").size());
        for (JsonNode run : doc.get("runs")) {
            assertTrue(run.get("samples").size() > 0, run.get("mode") + " has no samples");
            for (JsonNode s : run.get("samples")) assertTrue(s.get("tps").asDouble() >= 0, s.toString());
            if (run.get("mode").asText().equals("bmcast")) {
                assertTrue(run.get("devirtualizedSeconds").asDouble() > 0, run.toString());
                boolean after = false;
                for (JsonNode s : run.get("samples")) after |= s.get("phase").asText().equals("devirtualized");
                assertTrue(after, "pgbench ran again after de-virtualization");
            }
        }
        assertTrue(doc.get("means").get("pgbench").get("local").get("mean").asDouble() > 0, doc.toString());

        BufferedImage png = ImageIO.read(out.resolve("workload.png").toFile());
        assertEquals(LineChart.WIDTH, png.getWidth());
        assertEquals(LineChart.TOP + LineChart.PANEL_HEIGHT + LineChart.BOTTOM, png.getHeight(), "one panel: pgbench");
    }
}
