package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WorkloadLineTest {
    /** A line as the guest prints it: the body and its length. */
    static String line(String body) {
        return "bmcast-workload: " + body + " n=" + body.length();
    }

    @Test
    void readsAFigureWithItsFields() {
        WorkloadLine l = WorkloadLine.parse(line("pgbench t=3.0 tps=41.2 lat_ms=96.8")).orElseThrow();
        assertTrue(l.isSample());
        assertEquals("pgbench", l.job());
        assertEquals(41.2, l.value("tps"));
        assertEquals(3.0, l.value("t"));
        assertEquals(Map.of("t", "3.0", "tps", "41.2", "lat_ms", "96.8"), l.fields());
    }

    @Test
    void readsStartDoneAndFailedAsEventsAboutAJob() {
        WorkloadLine done = WorkloadLine.parse(line("done fio-randread")).orElseThrow();
        assertFalse(done.isSample());
        assertEquals("done", done.word());
        assertEquals("fio-randread", done.job());
        WorkloadLine start = WorkloadLine.parse(line("start pgbench seconds=60")).orElseThrow();
        assertEquals("pgbench", start.job());
        assertEquals(60.0, start.value("seconds"));
        assertEquals("failed", WorkloadLine.parse(line("failed pgbench")).orElseThrow().word());
    }

    @Test
    void dropsLinesTheSerialConsoleGarbled() {
        // seen on this machine's TCG serial console: a character repeated now and then
        String good = line("pgbench t=34.2 tps=34.4 lat_ms=103.411");
        assertTrue(WorkloadLine.parse(good).isPresent());
        for (String garbled : List.of(good.replace("tps=34.4", "tps=334.4"), good.replace("pgbench", "ppgbench"),
                good.replace("bmcast-workload: ", "bmcast-workload:: "), good.replace(" tps", "  tps"),
                good + "8", good.substring(0, good.indexOf(" n=")))) {
            assertTrue(WorkloadLine.parse(garbled).isEmpty(), garbled);
        }
        // a repeat before the prefix leaves the line itself intact
        assertEquals(34.4, WorkloadLine.parse("b" + good).orElseThrow().value("tps"));
    }

    @Test
    void findsTheLineAfterOtherConsoleOutputAndIgnoresEverythingElse() {
        // the shell's prompt or a kernel message can precede a line on a shared serial console
        WorkloadLine l = WorkloadLine.parse("root@bmcast-debian-db:~# " + line("fio-seqread t=2.0 mbps=85.1") + " ")
                .orElseThrow();
        assertEquals(85.1, l.value("mbps"));
        for (String other : List.of("", "progress: 1.0 s, 97.0 tps", "bmcast-workload pgbench 30",
                "[  12.3] systemd[1]: Started bmcast-workload.service")) {
            assertTrue(WorkloadLine.parse(other).isEmpty(), other);
        }
        assertTrue(Double.isNaN(l.value("iops")), "absent key");
        assertTrue(Double.isNaN(WorkloadLine.parse(line("pgbench t=1 tps=-nan")).orElseThrow().value("tps")));
    }

    @Test
    void eachJobHasItsMetric() {
        assertEquals("tps", WorkloadLine.metricOf("pgbench"));
        assertEquals("mbps", WorkloadLine.metricOf("fio-seqread"));
        assertEquals("mbps", WorkloadLine.metricOf("fio-seqwrite"));
        assertEquals("iops", WorkloadLine.metricOf("fio-randread"));
    }
}
