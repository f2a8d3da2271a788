package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.testing.Tools;
import io.bmcast.vmm.GuestConsole;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that powers off before its disk is local: the instance must not leave a half-copied disk behind.
 * It finishes the copy after QEMU has exited, so the local disk ends equal to the image, byte for byte (the
 * guest mounts its root read-only and writes nothing).
 */
class PowerOffBeforeHydrationTest {
    /** 1 MiB/s: the ~24 MiB the image holds take ~20 s, far longer than booting and powering off. */
    private static final long HYDRATE_RATE = 1L << 20;

    @TempDir
    Path tmp;

    @Test
    @Timeout(300)
    void instanceFinishesTheCopyAfterTheGuestHasGone() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            d.start(HYDRATE_RATE, d.guest.append().replace(" rw", " ro") + " init=/bin/sh", null, q -> {});
            GuestConsole con = d.console();
            con.awaitShell(Deployment.BOOT);
            d.run("export PATH=/sbin:/bin:/usr/sbin:/usr/bin; mount -t proc proc /proc");
            Map<String, Object> before = io.bmcast.node.NodeState.readStatus(d.state);
            assertTrue(before == null || "streaming".equals(before.get("phase")), "still streaming at power-off: " + before);
            Instance.Result r = d.powerOff(false);

            assertEquals(0, r.vmmExitCode());
            assertTrue(r.devirtualized() < 0, "the guest left before de-virtualization: " + Instance.describe(r));
            assertTrue(r.hydrated() > r.vmmExited(), "the copy finished after the guest exited: " + Instance.describe(r));
            assertEquals("hydrated", r.finalStatus().get("phase"), r.finalStatus().toString());
            List<String> events = Files.readAllLines(d.events);
            int exited = indexOf(events, "\"vmm-exited\"");
            int hydrated = indexOf(events, "\"hydrated\"");
            assertTrue(exited >= 0 && hydrated > exited, "vmm-exited, then hydrated:\n" + String.join("\n", events));

            Tools.Result cmp = Tools.run(Duration.ofMinutes(3), "qemu-img", "compare", "-f", "raw", "-F", "raw",
                    d.guest.disk().toString(), d.disk.toString());
            assertEquals(0, cmp.exitCode(), "qemu-img compare image local-disk:\n" + cmp.stdout() + cmp.stderr());
            assertTrue(cmp.stdout().contains("Images are identical"), cmp.stdout());
        }
    }

    private static int indexOf(List<String> lines, String needle) {
        for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains(needle)) return i;
        return -1;
    }
}
