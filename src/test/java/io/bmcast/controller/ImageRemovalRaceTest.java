package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.controller.TestFleet.Db;
import io.bmcast.fleet.Api;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 12, item 13: an image removed while launches of it run. Whichever commits first wins, on H2 and on
 * PostgreSQL: a launch that loses answers 404 ("removed"), a removal that loses answers 409 ("in use"), and no
 * instance that is not deleted ever refers to an image that is gone.
 */
class ImageRemovalRaceTest {
    static final int ROUNDS = 30;
    static final int LAUNCHERS = 8;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Db.class)
    void noInstanceEverReferencesARemovedImage(Db db) throws Exception {
        try (TestFleet fleet = TestFleet.start(db, dir); ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            int removedRounds = 0;
            int launchedRounds = 0;
            for (int round = 0; round < ROUNDS; round++) {
                String image = "race-" + round;
                fleet.addImage(image, "small");
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Integer>> launches = new ArrayList<>();
                for (int i = 0; i < LAUNCHERS; i++) {
                    launches.add(pool.submit(() -> {
                        go.await();
                        return fleet.operator.post("/api/v1/instances", new Api.Launch(image, 3)).status();
                    }));
                }
                // the removal retries while the launches run, so it lands between some launch's check and its commit
                Future<Integer> removal = pool.submit(() -> {
                    go.await();
                    int status = 0;
                    for (int i = 0; i < 50 && status != 204; i++) {
                        status = fleet.operator.delete("/api/v1/images/" + image).status();
                        if (status != 204 && status != 409) return status;
                    }
                    return status;
                });
                go.countDown();
                for (Future<Integer> f : launches) {
                    int status = f.get();
                    assertTrue(status == 201 || status == 404, "a launch answers 201 or 404 (removed), not " + status);
                    if (status == 201) launchedRounds++;
                }
                int removed = removal.get();
                assertTrue(removed == 204 || removed == 409, "a removal answers 204 or 409 (in use), not " + removed);
                if (removed == 204) removedRounds++;
            }
            Set<String> images = fleet.operator.get("/api/v1/images").as(TestFleet.IMAGES).stream().map(Api.Image::name)
                    .collect(Collectors.toSet());
            List<Api.Instance> orphans = fleet.operator.get("/api/v1/instances").as(TestFleet.INSTANCES).stream()
                    .filter(i -> !i.state().equals("deleted") && !images.contains(i.image())).toList();
            System.out.println("image removal race on " + db + ": " + removedRounds + " of " + ROUNDS + " rounds ended with the image"
                    + " removed, " + launchedRounds + " of " + ROUNDS * LAUNCHERS + " launches went through, " + orphans.size() + " orphans");
            assertEquals(List.of(), orphans, "instances of removed images (" + removedRounds + " of " + ROUNDS
                    + " rounds ended with the image removed, " + launchedRounds + " launches went through)");
        }
    }
}
