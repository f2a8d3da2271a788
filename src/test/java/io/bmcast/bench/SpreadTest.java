package io.bmcast.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class SpreadTest {
    @Test
    void medianOfAnOddCountIsTheMiddleSampleWhateverTheOrder() {
        Spread s = Spread.of(9.0, 3.0, 4.0);
        assertEquals(4.0, s.median());
        assertEquals(3.0, s.min());
        assertEquals(9.0, s.max());
        assertEquals(3, s.count());
        assertEquals(0, s.failed());
    }

    @Test
    void medianOfAnEvenCountIsTheMeanOfTheTwoMiddleSamples() {
        Spread s = Spread.of(10.0, 1.0, 4.0, 2.0);
        assertEquals(3.0, s.median());
        assertEquals(1.0, s.min());
        assertEquals(10.0, s.max());
    }

    @Test
    void oneOutlierDoesNotMoveTheMedian() {
        assertEquals(3.2, Spread.of(3.1, 3.2, 30.0).median(), "a slow spell on a neighbour's behalf");
        assertEquals(3.2, Spread.of(3.2).median());
    }

    @Test
    void failedRunsAreCountedButKeptOutOfTheFigures() {
        Spread s = Spread.of(-1, 5.0, Double.NaN, 7.0);
        assertEquals(6.0, s.median());
        assertEquals(5.0, s.min());
        assertEquals(2, s.count());
        assertEquals(2, s.failed());
        Spread none = Spread.of(-1, -1);
        assertFalse(none.present());
        assertTrue(Double.isNaN(none.median()));
        assertEquals(2, none.failed());
        assertFalse(Spread.of().present());
    }

    @Test
    void interleavingRunsEveryModeOnceBeforeAnyModeAgain() {
        List<Spread.Slot<String>> order = Spread.interleave(List.of("local", "remote", "bmcast"), 3);
        assertEquals(List.of("local#1", "remote#1", "bmcast#1", "local#2", "remote#2", "bmcast#2",
                "local#3", "remote#3", "bmcast#3"), order.stream().map(s -> s.mode() + "#" + s.run()).toList());
        assertEquals(List.of("a#1"), Spread.interleave(List.of("a"), 1).stream().map(s -> s.mode() + "#" + s.run()).toList());
        assertThrows(IllegalArgumentException.class, () -> Spread.interleave(List.of("a"), 0));
    }
}
