package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.vmm.GuestConsole;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image server dies with SIGKILL while the guest is reading data that is not local yet, and comes back on
 * the same socket path 2 s later: the mediator's fetches wait and reconnect instead of failing the guest's
 * reads, the guest's checks pass, and the instance de-virtualizes with a whole disk.
 */
class ImageServerRestartTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(360)
    void guestSurvivesImageServerKilledAndRestartedMidRead() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            d.start(StreamedBootTest.SLOW_HYDRATION);
            GuestConsole con = d.awaitReady();

            d.run("echo 3 > /proc/sys/vm/drop_caches");
            GuestConsole.Pending check = con.start("cd " + d.guest.dataDir() + " && sha256sum -c SHA256SUMS");
            con.awaitPattern(Pattern.compile("data-01\\.bin: OK"), Deployment.CMD);
            d.killImageServer();
            Map<String, Object> atKill = d.status();
            assertFalse(con.output().contains("data-08.bin: OK"), "the check finished before the kill; test proves nothing");
            Thread.sleep(2000); // the outage, not an assertion
            d.restartImageServer();

            GuestConsole.Result r = con.finish(check, Deployment.CMD);
            assertTrue(r.ok(), "checksums across the image server's restart: " + r.output());
            Deployment.assertAllOk(r.output(), d.guest.checksums().size());

            d.awaitDevirtualized();
            Instance.Result result = d.powerOff(true);
            assertEquals(0, result.vmmExitCode());
            assertEquals(0, result.mediatorRestarts(), "the mediator itself must ride out the outage: " + d.eventsText());
            assertTrue(result.devirtualized() > 0, result.toString());
            assertTrue(Deployment.number(result.finalStatus(), "bytesOnDemand") > Deployment.number(atKill, "bytesOnDemand"),
                    "the guest's reads after the outage went to the image server: at the kill " + atKill + ", at the end "
                    + result.finalStatus());
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
        }
    }

    /**
     * Both at once: the image server is down when the mediator dies, so the restarted mediator finds no image
     * server either. It must wait for it (as a running mediator does) rather than exit, and the instance must
     * not give up on the guest.
     */
    @Test
    @Timeout(360)
    void mediatorRestartedWhileImageServerIsDown() throws Exception {
        try (Deployment d = Deployment.of(tmp)) {
            d.startImageServer("200Mbit");
            d.start(StreamedBootTest.SLOW_HYDRATION);
            GuestConsole con = d.awaitReady();

            d.run("echo 3 > /proc/sys/vm/drop_caches");
            GuestConsole.Pending check = con.start("cd " + d.guest.dataDir() + " && sha256sum -c SHA256SUMS");
            con.awaitPattern(Pattern.compile("data-01\\.bin: OK"), Deployment.CMD);
            d.killImageServer();
            MediatorKillTest.kill9Mediator(d.state);
            Thread.sleep(3000); // the outage, not an assertion
            d.restartImageServer();

            GuestConsole.Result r = con.finish(check, Deployment.CMD);
            assertTrue(r.ok(), "checksums across the outage: " + r.output());
            Deployment.assertAllOk(r.output(), d.guest.checksums().size());
            d.awaitDevirtualized();
            Instance.Result result = d.powerOff(true);
            assertEquals(0, result.vmmExitCode());
            assertTrue(result.mediatorRestarts() >= 1, d.eventsText());
            d.assertFileSystemClean();
            d.assertImageDataOnDisk();
        }
    }
}
