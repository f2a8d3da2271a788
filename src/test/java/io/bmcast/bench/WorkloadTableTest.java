package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadTableTest {
    private static ConsoleSampler.Sample tps(double t, double v) {
        return new ConsoleSampler.Sample(t, WorkloadLine.parse(WorkloadLineTest.line("pgbench t=" + t + " tps=" + v)).orElseThrow());
    }

    private static WorkloadRun run(String mode, double devirtualized, double... tpsEverySecond) {
        List<ConsoleSampler.Sample> s = new ArrayList<>();
        for (int i = 0; i < tpsEverySecond.length; i++) s.add(tps(10 + i, tpsEverySecond[i]));
        return new WorkloadRun(mode, "pgbench", 1, s, devirtualized >= 0 ? devirtualized - 1 : -1, devirtualized, null, Map.of());
    }

    @Test
    void splitsBmcastAtDevirtualizationAndComparesEveryPhaseWithLocal() {
        WorkloadTable t = new WorkloadTable(List.of(
                run("local", -1, 100, 100, 100, 100),
                run("bmcast", 12, 80, 90, 100, 98), // samples at 10, 11 s deploying; 12, 13 s after
                run("remote-only", -1, 50, 50)));
        assertEquals(85, t.cell("pgbench", "deploying").mean(), 1e-9);
        assertEquals(2, t.cell("pgbench", "deploying").samples());
        assertEquals(0.99, t.ofLocal("pgbench", "devirtualized"), 1e-9);
        assertEquals(0.5, t.ofLocal("pgbench", "remote-only"), 1e-9);
        assertTrue(Double.isNaN(t.ofLocal("fio-seqread", "deploying")), "no fio ran");
        String targets = t.targets();
        assertTrue(targets.contains("85.0%  MISSED"), targets);
        assertTrue(targets.contains("99.0%  met"), targets);
        String table = t.format();
        assertTrue(table.contains("bmcast, during deployment") && table.contains("85.0  85.0% (n=2)"), table);
        assertTrue(!table.contains("seq read"), "jobs that never ran get no column:\n" + table);
    }

    @Test
    void aBmcastRunThatNeverDevirtualizedIsAllDeployment() {
        WorkloadRun r = run("bmcast", -1, 10, 20, 30);
        assertEquals(3, r.points("pgbench", "deploying").size());
        assertEquals(0, r.points("pgbench", "devirtualized").size());
    }
}
