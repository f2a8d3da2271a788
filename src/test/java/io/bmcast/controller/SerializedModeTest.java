package io.bmcast.controller;

import static io.bmcast.controller.TestFleet.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Swift Birth's cached metadata against the serialized toolstack: by default N launches of one image ask
 * its image server nothing; in {@code --serialized} mode every launch reads the image again, and a launch
 * returns only once an agent has taken its instance.
 */
class SerializedModeTest {
    @TempDir
    Path dir;

    @Test
    void launchesReadTheCachedMetadataNotTheImageServer() throws Exception {
        try (TestFleet fleet = TestFleet.start(Db.H2, dir)) {
            for (int i = 0; i < 3; i++) fleet.availableAgent("n" + i, 1024 * MiB);
            fleet.addImage("busybox", "small");
            long before = fleet.imageServer.server.connectionsAccepted();
            assertEquals(3, fleet.launch(fleet.operator, "busybox", 3).size());
            fleet.launch(fleet.operator, "busybox", 1);
            assertEquals(before, fleet.imageServer.server.connectionsAccepted(), "no launch asked the image server");
        }
    }

    @Test
    void serializedLaunchesRereadTheImageAndWaitForTheAgentToTakeTheInstance() throws Exception {
        try (TestFleet fleet = TestFleet.start(Db.H2, dir, c -> c.withSerialized(true));
             ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<ProtocolAgent> agents = new ArrayList<>();
            for (int i = 0; i < 3; i++) agents.add(fleet.availableAgent("n" + i, 1024 * MiB));
            fleet.addImage("busybox", "small");
            long before = fleet.imageServer.server.connectionsAccepted();
            AtomicBoolean running = new AtomicBoolean(true);
            for (ProtocolAgent a : agents) {
                threads.submit(() -> {
                    while (running.get()) {
                        if (a.instanceId() == null && a.beat().assignment() != null) a.take();
                        a.beat();
                        Thread.sleep(20);
                    }
                    return null;
                });
            }
            List<Future<Api.Instance>> launches = new ArrayList<>();
            for (int i = 0; i < 3; i++) launches.add(threads.submit(() -> fleet.launch(fleet.operator, "busybox", 1).getFirst()));
            for (Future<Api.Instance> f : launches) {
                Api.Instance i = f.get();
                assertEquals("starting", fleet.instance(i.id()).state(), "a serialized launch returns once its agent took it");
            }
            running.set(false);
            assertTrue(fleet.imageServer.server.connectionsAccepted() >= before + 3, "each launch read the image again");
        }
    }
}
