package io.bmcast.mediator;

import static io.bmcast.mediator.Fixture.options;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two kinds of crash, as a seeded property test. A random mix of guest writes (some FUA), zeroing,
 * reads, flushes, background fetches and periodic commits runs against a mediated disk; then either
 *
 * <ul>
 *   <li>the <b>process</b> dies ({@code kill -9}: files keep everything the kernel holds) and restarts with
 *       the same boot id: every acknowledged write must read back, flushed or not; or</li>
 *   <li>the <b>power</b> fails: each file keeps only what was forced — plus, sector by sector at random,
 *       some of what was written after (the kernel may have written it back) — and the mediator restarts
 *       with a new boot id: every flushed (or FUA) write must read back, and every sector must hold a value
 *       it legitimately had since its last flush (a PRESENT region without its data would show stale or
 *       zero bytes).</li>
 * </ul>
 * Crashes also strike inside operations, at a random force. Every other seed runs on a local disk twice the
 * image's size with an image whose last region is short: the tenant's part past the image obeys the same rules.
 */
class CrashTest {
    private static final int RS = 16 << 10;
    private static final int SECTOR = 512;
    private static final int SIZE = 256 << 10;

    @TempDir
    Path tmp;

    /** Thrown at the chosen force: the process dies there. */
    static final class Crash extends RuntimeException {
        Crash() {
            super("simulated crash", null, false, false);
        }
    }

    /** Remembers, per file, its contents at its last force; can crash at the n-th force. */
    static final class SimDurability implements Durability {
        final Map<Path, byte[]> durable = new HashMap<>();
        int forces;
        int crashAtForce = -1;

        @Override
        public void force(FileChannel channel, Path path, boolean metadata) throws IOException {
            if (++forces == crashAtForce) throw new Crash();
            durable.put(path.toAbsolutePath().normalize(), Files.readAllBytes(path));
        }

        @Override
        public void syncDirectory(Path dir) {}

        /** After a restart, what is on the files now is what a power loss would find. */
        void seed(List<Path> files) throws IOException {
            for (Path p : files) durable.put(p.toAbsolutePath().normalize(), Files.readAllBytes(p));
        }

        /**
         * Power loss: every forced file goes back to its forced contents, except that each sector written
         * since may have reached the disk anyway (probability 1/2). Files never forced keep what they have
         * (the live map: the worst case, stale bits from the previous boot). In place: inodes stay.
         */
        void losePower(Random rnd) throws IOException {
            for (Map.Entry<Path, byte[]> e : durable.entrySet()) {
                Path p = e.getKey();
                if (!Files.exists(p)) continue;
                byte[] now = Files.readAllBytes(p);
                byte[] after = e.getValue().clone();
                for (int off = 0; off < Math.min(now.length, after.length); off += SECTOR) {
                    int end = Math.min(off + SECTOR, Math.min(now.length, after.length));
                    if (!Arrays.equals(now, off, end, after, off, end) && rnd.nextBoolean()) {
                        System.arraycopy(now, off, after, off, end - off);
                    }
                }
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.truncate(after.length);
                    ByteBuffer b = ByteBuffer.wrap(after);
                    while (b.hasRemaining()) ch.write(b, b.position());
                }
            }
        }
    }

    /**
     * What each 512-byte sector may hold. Tokens: 0 = the initial content (the image; zeros past it), -1 = zeros,
     * k > 0 = guest write k.
     */
    static final class Model {
        final byte[] image;
        final int sectors;
        final int[] current;
        final List<Set<Integer>> sinceFlush = new ArrayList<>();

        Model(byte[] image, int sectors) {
            this.image = image;
            this.sectors = sectors;
            this.current = new int[sectors];
            for (int s = 0; s < sectors; s++) sinceFlush.add(new HashSet<>(Set.of(0)));
        }

        byte[] content(int token, int sector) {
            byte[] b = new byte[SECTOR];
            if (token == 0 && sector * SECTOR < image.length) System.arraycopy(image, sector * SECTOR, b, 0, SECTOR);
            else if (token > 0) for (int i = 0; i < SECTOR; i++) b[i] = (byte) (token * 131 + sector * 17 + i * 3 + 1);
            return b;
        }

        byte[] content(int token, int first, int count) {
            byte[] b = new byte[count * SECTOR];
            for (int s = 0; s < count; s++) System.arraycopy(content(token, first + s), 0, b, s * SECTOR, SECTOR);
            return b;
        }

        void flushed() {
            for (int s = 0; s < sectors; s++) sinceFlush.set(s, new HashSet<>(Set.of(current[s])));
        }
    }

    @Test
    void processCrashesAndPowerLossesNeverLoseWhatWasPromised() throws Exception {
        int crashes = 0, powerLosses = 0, midOp = 0;
        for (int seed = 0; seed < 60; seed++) {
            int[] counts = runSeed(seed);
            crashes += counts[0];
            powerLosses += counts[1];
            midOp += counts[2];
        }
        assertTrue(crashes > 30 && powerLosses > 30 && midOp > 10,
                "coverage: " + crashes + " process crashes, " + powerLosses + " power losses, " + midOp + " mid-op");
    }

    private int[] runSeed(int seed) throws Exception {
        Random rnd = new Random(seed);
        int[] holes = new int[rnd.nextInt(12)];
        for (int i = 0; i < holes.length; i++) holes[i] = rnd.nextInt(SIZE / 4096);
        boolean larger = seed % 2 == 1;
        // Larger disk: the image ends 3 sectors into its last region, and the disk goes on to twice the size.
        TestImage image = TestImage.random(seed, larger ? SIZE - 3 * SECTOR : SIZE, holes);
        int diskSize = larger ? 2 * SIZE : SIZE;
        int sectors = diskSize / SECTOR;
        Model model = new Model(image.data, sectors);
        Fixture f = new Fixture(tmp.resolve("seed" + seed));
        Files.createDirectories(f.dir);
        int boot = 0;
        SimDurability sim = new SimDurability();
        if (larger) {
            try (java.io.RandomAccessFile r = new java.io.RandomAccessFile(f.local.toFile(), "rw")) {
                r.setLength(diskSize); // a scrubbed machine disk: zeros, durably
            }
            sim.seed(List.of(f.local));
        }
        MediatedDisk disk = f.open(image, options(RS, "boot-" + boot).withDurability(sim));
        int token = 0;
        int[] counts = new int[3];
        for (int round = 0; round < 3; round++) {
            String where = "seed " + seed + " round " + round;
            if (rnd.nextInt(3) == 0) sim.crashAtForce = sim.forces + 1 + rnd.nextInt(10);
            int inflightToken = Integer.MIN_VALUE, inflightFirst = 0, inflightCount = 0;
            try {
                for (int op = 0; op < 40; op++) {
                    int first = rnd.nextInt(sectors);
                    int count = 1 + rnd.nextInt(Math.min(48, sectors - first));
                    int kind = rnd.nextInt(20);
                    if (kind < 8) { // write, sometimes FUA
                        int t = ++token;
                        boolean fua = rnd.nextInt(5) == 0;
                        for (int s = first; s < first + count; s++) model.sinceFlush.get(s).add(t);
                        inflightToken = t; inflightFirst = first; inflightCount = count;
                        disk.write((long) first * SECTOR, ByteBuffer.wrap(model.content(t, first, count)), fua);
                        for (int s = first; s < first + count; s++) {
                            model.current[s] = t;
                            if (fua) model.sinceFlush.set(s, new HashSet<>(Set.of(t)));
                        }
                    } else if (kind < 10) { // write zeroes or trim
                        int from = first, to = first + count; // the sectors that read as zero afterwards
                        if (kind != 8) {
                            // TRIM is a hint: a partly covered edge region that is not local keeps its bytes.
                            int perRegion = disk.regionSize() / SECTOR;
                            int imageSectors = (int) (disk.imageSize() / SECTOR);
                            int r0 = from / perRegion, r1 = (to - 1) / perRegion;
                            if (from < imageSectors && from % perRegion != 0 && !disk.map().isPresent(r0)) from = Math.min(to, (r0 + 1) * perRegion);
                            if (to < imageSectors && to % perRegion != 0 && to > from && !disk.map().isPresent(r1)) to = Math.max(from, r1 * perRegion);
                        }
                        for (int s = from; s < to; s++) model.sinceFlush.get(s).add(-1);
                        inflightToken = -1; inflightFirst = from; inflightCount = to - from;
                        if (kind == 8) disk.writeZeroes((long) first * SECTOR, (long) count * SECTOR, false, false, false);
                        else disk.trim((long) first * SECTOR, (long) count * SECTOR, false);
                        for (int s = from; s < to; s++) model.current[s] = -1;
                    } else if (kind < 13) { // read: the acknowledged state, exactly
                        ByteBuffer b = ByteBuffer.allocate(count * SECTOR);
                        disk.read((long) first * SECTOR, b);
                        for (int s = 0; s < count; s++) {
                            assertArrayEquals(model.content(model.current[first + s], first + s),
                                    Arrays.copyOfRange(b.array(), s * SECTOR, (s + 1) * SECTOR), where + " read");
                        }
                    } else if (kind < 15) {
                        disk.flush();
                        model.flushed();
                    } else if (kind < 19) { // the hydrator's work
                        disk.hydrateRun(rnd.nextInt(disk.regions()), 1 + rnd.nextInt(4));
                    } else {
                        disk.commitIfChanged(); // the housekeeper's periodic commit
                    }
                    inflightToken = Integer.MIN_VALUE;
                }
            } catch (Crash c) {
                counts[2]++;
            }
            disk.simulateProcessCrash();
            boolean powerLoss = rnd.nextBoolean();
            List<Set<Integer>> allowed = new ArrayList<>();
            if (powerLoss) {
                sim.losePower(rnd);
                boot++;
                allowed.addAll(model.sinceFlush);
                counts[1]++;
            } else {
                for (int s = 0; s < sectors; s++) {
                    Set<Integer> a = new HashSet<>(Set.of(model.current[s]));
                    if (inflightToken != Integer.MIN_VALUE && s >= inflightFirst && s < inflightFirst + inflightCount) {
                        a.add(inflightToken); // not acknowledged: either is right
                    }
                    allowed.add(a);
                }
                counts[0]++;
            }
            sim = new SimDurability();
            try (Stream<Path> files = Files.list(f.state)) {
                List<Path> all = new ArrayList<>(files.filter(Files::isRegularFile).toList());
                all.add(f.local);
                sim.seed(all);
            }
            disk = f.open(image, options(RS, "boot-" + boot).withDurability(sim));
            assertEquals(diskSize, disk.size(), where + ": the guest sees the whole disk");
            ByteBuffer b = ByteBuffer.allocate(diskSize);
            disk.read(0, b);
            for (int s = 0; s < sectors; s++) {
                byte[] actual = Arrays.copyOfRange(b.array(), s * SECTOR, (s + 1) * SECTOR);
                int found = Integer.MIN_VALUE;
                for (int t : allowed.get(s)) {
                    if (Arrays.equals(actual, model.content(t, s))) found = t;
                }
                if (found == Integer.MIN_VALUE) {
                    fail(where + (powerLoss ? " after power loss" : " after process crash") + ": sector " + s
                            + " (region " + (s * SECTOR / RS) + ") holds none of " + allowed.get(s)
                            + " (current " + model.current[s] + ")");
                }
                model.current[s] = found;
            }
            if (powerLoss) model.flushed(); // what we read is what the disk now holds
        }
        disk.close();
        return counts;
    }
}
