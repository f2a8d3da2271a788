package io.bmcast.mediator;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The kernel's own view (/proc/self/task/TID/stat): the calling thread is niced, the rest of the process is not. */
class ThreadPriorityTest {
    @Test
    void onlyTheCallingThreadIsNiced() throws Exception {
        int mine = ThreadPriority.currentTid();
        assertTrue(mine > 0, "no thread id");
        AtomicInteger seen = new AtomicInteger(Integer.MIN_VALUE);
        AtomicInteger ok = new AtomicInteger();
        Thread u = Thread.ofPlatform().start(() -> {
            ok.set(ThreadPriority.niceCurrentThread(10) ? 1 : 0);
            seen.set(nice(ThreadPriority.currentTid()));
        });
        u.join();
        assertEquals(1, ok.get(), "setpriority failed");
        assertEquals(10, seen.get(), "the niced thread's nice value");
        assertEquals(0, nice(mine) - baseNice(), "the test's own thread keeps the process's nice value");
    }

    /** Field 19 of /proc/self/task/TID/stat (after the parenthesised name, which may hold spaces). */
    private static int nice(int tid) {
        try {
            String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(f[16]);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static int baseNice() throws Exception {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]);
    }
}
