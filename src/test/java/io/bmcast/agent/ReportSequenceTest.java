package io.bmcast.agent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Report numbers keep rising across an agent's restarts, even when the clock stepped back meanwhile. */
class ReportSequenceTest {
    @TempDir
    Path work;

    @Test
    void numbersRiseAcrossRestartsEvenWhenTheClockStepsBack() throws Exception {
        ReportSequence first = ReportSequence.open(work, 5_000_000);
        long a = first.next();
        long b = first.next();
        assertTrue(b > a);
        // restarted with the clock an hour behind: the lease in the work directory keeps the numbers above
        ReportSequence again = ReportSequence.open(work, 5_000_000 - 3_600_000_000L);
        long c = again.next();
        assertTrue(c > b, c + " after " + b);
        // and past a whole lease, a new one is written before its numbers are used
        long last = c;
        for (long i = 0; i <= ReportSequence.LEASE; i++) last = again.next();
        long d = ReportSequence.open(work, 0).next();
        assertTrue(d > last, d + " after " + last);
    }
}
