package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.node.NodeState;
import io.bmcast.vmm.GuestConsole;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mediator dies with SIGKILL twice under a running guest: (a) right after QEMU starts, before the guest has
 * booted, and (b) while the guest verifies its data and the hydrator is copying. Each time the instance restarts
 * it on the same state, QEMU holds the guest's I/O meanwhile (reconnect-delay), the guest's checks pass, the
 * instance still de-virtualizes, and the disk ends whole. And once (c) the moment it first listens, before
 * QEMU, started beside it, has attached the guest's disk.
 */
class MediatorKillTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(360)
    void guestSurvivesMediatorKilledDuringBootAndDuringHydration() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            long[] killedAtBoot = {-1};
            d.start(StreamedBootTest.SLOW_HYDRATION, d.guest.append(), d.guest.readyMarker(), q -> {
                try {
                    killedAtBoot[0] = kill9Mediator(d.state);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            GuestConsole con = d.awaitReady();
            assertTrue(killedAtBoot[0] > 0, "the mediator was not killed at boot");
            assertEquals(1, d.eventCount("mediator-restarted"), d.eventsText());

            d.run("echo 3 > /proc/sys/vm/drop_caches");
            GuestConsole.Pending check = con.start("cd " + d.guest.dataDir() + " && sha256sum -c SHA256SUMS");
            con.awaitPattern(Pattern.compile("data-01\\.bin: OK"), Deployment.CMD);
            Map<String, Object> before = d.status();
            assertEquals("streaming", before.get("phase"), "the hydrator must still be copying: " + before);
            long pid = kill9Mediator(d.state);
            assertTrue(pid != killedAtBoot[0], "a new mediator ran after the first kill");
            assertFalse(con.output().contains("data-08.bin: OK"), "the check finished before the kill; test proves nothing");

            GuestConsole.Result r = con.finish(check, Deployment.CMD);
            assertTrue(r.ok(), "checksums across the mediator's restart: " + r.output());
            Deployment.assertAllOk(r.output(), d.guest.checksums().size());
            String written = d.writeRandomFile("/root/after-kills.bin", 2);

            d.awaitDevirtualized();
            Instance.Result result = d.powerOff(true);
            assertEquals(0, result.vmmExitCode());
            assertEquals(2, result.mediatorRestarts(), d.eventsText());
            assertTrue(result.devirtualized() > 0, result.toString());
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
            d.assertFileOnDisk("/root/after-kills.bin", written);
        }
    }

    /**
     * QEMU starts beside the mediator, paused and without its disk, and attaches the disk once the mediator
     * listens. Here the mediator dies with SIGKILL the moment it listens, before QEMU has connected: the instance
     * restarts it, attaches the disk to the new one, and the guest boots, checks its data, de-virtualizes and
     * ends with its disk whole.
     */
    @Test
    @Timeout(360)
    void guestBootsWhenTheMediatorIsKilledBeforeItsDiskIsAttached() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("1Gbit");
            long[] killed = {-1};
            d.start(0, d.guest.append(), d.guest.readyMarker(), q -> {}, event -> {
                if (event.equals("mediator-started") && killed[0] < 0) {
                    try {
                        killed[0] = kill9Mediator(d.state);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            });
            d.awaitReady();
            assertTrue(killed[0] > 0, "the mediator was not killed");
            java.util.List<String> names = d.eventsText().lines()
                    .map(l -> l.replaceAll(".*\"event\":\"([^\"]+)\".*", "$1")).toList();
            String timeline = String.join(", ", names);
            assertTrue(names.indexOf("mediator-started") < names.indexOf("mediator-exited")
                    && names.indexOf("mediator-exited") < names.indexOf("mediator-restarted")
                    && names.indexOf("mediator-restarted") < names.indexOf("vmm-started"),
                    "the disk is attached to the restarted mediator, then the guest runs: " + timeline);
            d.checkImageData();
            String written = d.writeRandomFile("/root/after-kill.bin", 2);
            d.awaitDevirtualized();
            Instance.Result result = d.powerOff(true);
            assertEquals(0, result.vmmExitCode());
            assertEquals(1, result.mediatorRestarts(), d.eventsText());
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
            d.assertFileOnDisk("/root/after-kill.bin", written);
        }
    }

    /** SIGKILL to the mediator named in {@code STATE/node.pid}; returns its pid once it is gone. */
    static long kill9Mediator(Path state) throws IOException {
        long pid = Long.parseLong(Files.readString(state.resolve(NodeState.PID)).strip());
        ProcessHandle p = ProcessHandle.of(pid).orElseThrow(() -> new IOException("mediator " + pid + " not running"));
        p.destroyForcibly();
        try {
            p.onExit().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException("mediator " + pid + " survived SIGKILL", e);
        }
        return pid;
    }
}
