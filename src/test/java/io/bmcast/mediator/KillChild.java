package io.bmcast.mediator;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The mediator process that {@link KillTest} kills with SIGKILL: opens the disk, hydrates in the
 * background, and writes a seeded sequence of random writes, printing {@code ACK i} after write i returns.
 * Never flushes: what survives a kill -9 is only what the page cache and the live map hold.
 */
public final class KillChild {
    static final int REGION = 16 << 10;

    /** Write i of a seeded sequence: offset, then bytes. */
    static long offset(Random rnd, long size, int len) {
        return (long) (rnd.nextDouble() * (size - len));
    }

    public static void main(String[] args) throws Exception {
        TestImage image = new TestImage(Files.readAllBytes(Path.of(args[0])));
        Path local = Path.of(args[1]);
        Path state = Path.of(args[2]);
        long seed = Long.parseLong(args[3]);
        MediatorOptions options = MediatorOptions.of("killed", "test://kill").withRegionSize(REGION)
                .withIntervals(20_000_000L, 1_000_000_000L);
        MediatedDisk disk = MediatedDisk.open(image, local, state, options);
        image.onRead = off -> java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        disk.startHousekeeping();
        Hydrator h = new Hydrator(disk, Hydrator.Options.defaults().withBatchBytes(2 * REGION)
                .withYieldPolicy((now, inFlight, last) -> true).withRate(4 << 20));
        h.start();
        Random rnd = new Random(seed);
        for (int i = 0; ; i++) {
            int len = 1 + rnd.nextInt(3 * REGION);
            long off = offset(rnd, image.size(), len);
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            disk.write(off, ByteBuffer.wrap(data), false);
            System.out.println("ACK " + i);
            System.out.flush();
        }
    }
}
