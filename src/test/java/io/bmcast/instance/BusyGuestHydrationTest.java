package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.node.MediatorConfig;
import io.bmcast.node.NodeState;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that never stops doing I/O: from the moment it is ready, a loop writes a file, syncs it, drops the page
 * cache and reads everything back, over and over. Its disk still becomes local and the instance de-virtualizes
 * while the loop runs, and nothing the guest wrote or read is lost. Remote-only ({@code --no-background-copy}):
 * the same guest runs, reads what it needs, and its disk never completes.
 */
class BusyGuestHydrationTest {
    /**
     * Slow enough that the disk is far from local when the loop starts (~25 MiB of image: ~13 s of link alone, about
     * a minute at the default share if the guest left no gap at all).
     */
    static final String LINK = "16Mbit";

    /** The loop, in the background of the guest's shell; {@code /root/stop} ends it. */
    static String busyLoop(String dataDir) {
        return "( n=0; while [ ! -e /root/stop ]; do dd if=/dev/urandom of=/root/busy.bin bs=64k count=16 2>/dev/null;"
                + " sync; echo 3 > /proc/sys/vm/drop_caches; cat /root/busy.bin " + dataDir + "/* > /dev/null;"
                + " n=$((n+1)); echo $n > /root/busy.count; done ) > /dev/null 2>&1 & echo busy-pid=$!";
    }

    @TempDir
    Path tmp;

    @Test
    @Timeout(420)
    void aGuestThatNeverPausesItsIoStillDevirtualizesWithItsDataIntact() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer(LINK);
            d.start(0);
            d.awaitReady();
            String pid = pid(d.run(busyLoop(d.guest.dataDir())));
            Map<String, Object> atStart = d.status();
            assertEquals("streaming", atStart.get("phase"), "the loop must start before the disk is local: " + atStart);
            d.awaitDevirtualized();
            Map<String, Object> status = d.status();
            // The loop was still going when the disk went local.
            String running = d.run("[ -e /proc/" + pid + " ] && echo loop-running; cat /root/busy.count 2>/dev/null; true");
            assertTrue(running.contains("loop-running"), "the busy loop ended before de-virtualization:\n" + running);
            d.run("touch /root/stop; while [ -e /proc/" + pid + " ]; do sleep 1; done; sha256sum /root/busy.bin > /root/busy.sha256");
            String busy = d.run("cat /root/busy.sha256").lines().filter(l -> l.endsWith("/root/busy.bin")).findFirst()
                    .orElseThrow().substring(0, 64);
            d.run("echo 3 > /proc/sys/vm/drop_caches");
            d.checkImageData();
            System.out.println("busy guest de-virtualized; status at the end: " + status + "; loop iterations: "
                    + d.run("cat /root/busy.count").strip());

            Instance.Result r = d.powerOff(true);
            assertEquals(0, r.vmmExitCode(), r.toString());
            assertTrue(r.devirtualized() > r.guestReady(), r.toString());
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
            d.assertFileOnDisk("/root/busy.bin", busy);
        }
    }

    @Test
    @Timeout(300)
    void remoteOnlyNeverCopiesInTheBackgroundAndNeverDevirtualizes() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit"); // the whole image would be local in about a second
            d.hydration(new MediatorConfig.Hydration(MediatorConfig.Hydration.DEFAULT_SHARE, null, false));
            d.start(0);
            d.awaitReady();
            d.checkImageData();
            String pid = pid(d.run(busyLoop(d.guest.dataDir())));
            Thread.sleep(10_000);
            d.run("touch /root/stop; while [ -e /proc/" + pid + " ]; do sleep 1; done");
            Map<String, Object> s = d.status();
            assertEquals("streaming", s.get("phase"), s.toString());
            assertEquals(Boolean.FALSE, s.get("backgroundCopy"), s.toString());
            assertEquals(0, Deployment.number(s, "bytesBackground"), "copied in the background: " + s);
            assertTrue(Deployment.number(s, "bytesOnDemand") > 0, s.toString());
            assertTrue(Deployment.number(s, "regionsPresent") < Deployment.number(s, "regionsTotal"), s.toString());
            assertFalse(NodeState.isDevirtualized(d.state));
            assertEquals(0, d.eventCount("hydrated"), d.eventsText());
            System.out.println("remote-only after the busy loop: " + s);
            Instance.Result r = d.powerOff(true);
            assertEquals(0, r.vmmExitCode(), r.toString());
            assertTrue(r.devirtualized() < 0 && r.hydrated() < 0, r.toString());
        }
    }

    private static String pid(String out) {
        Matcher m = Pattern.compile("busy-pid=(\\d+)").matcher(out);
        assertTrue(m.find(), out);
        return m.group(1);
    }
}
