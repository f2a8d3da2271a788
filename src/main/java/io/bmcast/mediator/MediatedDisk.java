package io.bmcast.mediator;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import io.bmcast.util.Units;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A disk that streams itself in: reads of regions not yet on the local disk are fetched from the image
 * (the source), writes land on the local disk, and the {@link Hydrator} copies the rest in the background.
 * Served to the VMM as an NBD export.
 *
 * <h2>A disk larger than the image</h2>
 * The guest sees the whole local disk, which is usually larger than the image: the image fills its start,
 * the rest is the tenant's. Regions (and the maps in the state dir) cover the image only. Bytes past the image
 * are local from the start: never fetched or hydrated, read and written straight on the local disk, made
 * durable by the same forces as every other write. The only cost on the hot path is one comparison.
 *
 * <h2>Crash ordering</h2>
 * <ol>
 *   <li>A region's data is written to the local disk <em>before</em> its live bit is set, and its live bit
 *       is set before it is PRESENT for anyone (so before any write into it is acknowledged). The live map
 *       is a shared file mapping: a process crash keeps it, like the local disk's page cache.</li>
 *   <li>A commit snapshots the live bits, <em>then</em> forces the local disk, <em>then</em> writes and
 *       forces the committed map: a bit is durable only after its data is.</li>
 *   <li>FLUSH and FUA writes are answered after a commit that started after they arrived.</li>
 *   <li>On open, the live map is trusted only if it carries the current boot id (the process crashed, the
 *       page cache survived); otherwise it is rebuilt from the committed map (the machine went down).</li>
 * </ol>
 * A lost bit costs a re-fetch; a bit without its data would be silent corruption; a re-fetch over a region
 * the guest wrote would be silent loss. The ordering rules out the last two.
 */
public final class MediatedDisk implements Export {
    /** Largest single read from the source: bounds the buffer of one fetch. */
    static final int MAX_FETCH = 8 << 20;
    /**
     * Bytes of fetch buffers in use at once, across every fetch of this disk: four of the largest. A fetch
     * holds its buffer only while its bytes travel from the image to the local disk's page cache, so four keep
     * the link busy (the hydrator runs two batches of up to 2 MiB); without the bound, 128 guest reads of
     * 4 MiB regions at once asked for 512 MiB of heap, and the mediator ran out of memory.
     */
    static final int FETCH_BUFFER_BYTES = 4 * MAX_FETCH;
    /** Largest range one zeroing step claims. */
    static final long MAX_ZERO_SLICE = 1L << 30;

    private final Export source;
    private final String name;
    /** The image's size: regions cover {@code [0, imageSize)}. */
    private final long imageSize;
    /** The local disk's size, what the guest sees: {@code >= imageSize}. */
    private final long size;
    private final int regionShift;
    private final int regionSize;
    private final int regions;
    private final Path stateDir;
    private final MediatorOptions options;
    private final LocalDisk local;
    /** Holds the state dir's lock for this disk's lifetime. */
    private final FileChannel lock;
    private final LiveMap live;
    private final CommittedMap committed;
    private final RegionMap map;
    private final SourceHoles holes;
    private final BootProfile profileRecorder;
    private final int[] profileOrder;
    /**
     * True when every byte of an ABSENT region reads as zero or as the image's bytes (or as a guest write
     * that was never acknowledged): we created the file sparse. Then a hole in the image needs no local
     * write at all; otherwise (an existing file, a block device) the region is zeroed.
     */
    private final boolean localKnownZero;

    private final AtomicInteger guestInFlight = new AtomicInteger();
    private volatile long lastGuestIoNs = Long.MIN_VALUE;
    private volatile MediatorStatus.Hydration hydrationReport;
    private final LongAdder bytesOnDemand = new LongAdder();
    private final LongAdder bytesBackground = new LongAdder();
    private final LongAdder regionsFromHoles = new LongAdder();
    private final AtomicLong sourceErrors = new AtomicLong();
    private volatile Supplier<MediatorStatus.Sources> sources;
    private volatile String lastError;
    private volatile Phase phase = Phase.STREAMING;
    /** Permits are bytes of fetch buffers ({@link #FETCH_BUFFER_BYTES}). */
    private final java.util.concurrent.Semaphore fetchBuffers = new java.util.concurrent.Semaphore(FETCH_BUFFER_BYTES);
    /**
     * Why the local disk can no longer be trusted to hold what was acknowledged, or null. Set when a force of
     * the local disk failed, and never cleared: Linux reports a write-back error once, then drops the dirty
     * pages and lets the next fdatasync succeed, so a later commit would make bits durable whose data is gone
     * (PostgreSQL's "fsyncgate"). From then on every FLUSH and FUA write fails and the map is not committed.
     */
    private volatile String syncFailure;

    /** Guards the committed map, {@link #commitsCompleted} and {@link #transitionsCommitted}. */
    private final ReentrantLock commitLock = new ReentrantLock();
    /** Commits begun (incremented under {@link #commitLock}); read without it to take a ticket. */
    private final AtomicLong commitsStarted = new AtomicLong();
    private long commitsCompleted;
    private long transitionsCommitted = -1;

    private final CompletableFuture<Void> hydrated = new CompletableFuture<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Started and stopped under this object's monitor. */
    private volatile Thread housekeeper;
    /** Guards the rate sample. */
    private final Object rateLock = new Object();
    private long rateSampleNs = Long.MIN_VALUE;
    private long rateSampleBytes;
    private double rate;

    private MediatedDisk(Export source, Path stateDir, MediatorOptions options, LocalDisk local, LiveMap live,
            CommittedMap committed, boolean localKnownZero, FileChannel lock) throws IOException {
        this.source = source;
        this.lock = lock;
        this.name = options.name();
        this.imageSize = source.size();
        this.size = local.size();
        this.regionSize = options.regionSize();
        this.regionShift = Integer.numberOfTrailingZeros(regionSize);
        this.regions = (int) ((imageSize + regionSize - 1) >>> regionShift);
        this.stateDir = stateDir;
        this.options = options;
        this.local = local;
        this.live = live;
        this.committed = committed;
        this.localKnownZero = localKnownZero;
        this.map = new RegionMap(regions, live);
        this.holes = new SourceHoles(source, imageSize, regionShift, Math.max(options.blockStatusChunk(), regionSize));
        if (options.sourceExtents() != null) holes.trust(options.sourceExtents()); // cached metadata: no block status
        Path own = stateDir.resolve(StateDir.PROFILE);
        this.profileOrder = BootProfile.load(options.bootProfile() != null ? options.bootProfile() : own,
                regionShift, regions);
        this.profileRecorder = BootProfile.recorder(own);
    }

    /**
     * The size of the image a state dir belongs to, or -1 when {@code stateDir} holds no state yet. Lets a
     * restarted mediator serve the regions it already has before the image server answers again.
     */
    public static long recordedImageSize(Path stateDir) throws IOException {
        if (!Files.exists(stateDir.resolve(StateDir.IDENTITY))) return -1;
        return StateDir.Identity.readFrom(stateDir).size();
    }

    /** The identity of the image a state dir belongs to, or null when {@code stateDir} holds no state yet. */
    public static String recordedImageIdentity(Path stateDir) throws IOException {
        if (!Files.exists(stateDir.resolve(StateDir.IDENTITY))) return null;
        return StateDir.Identity.readFrom(stateDir).image();
    }

    /**
     * Opens (or creates) the mediated disk of {@code source} with the local disk at {@code localDisk} and its
     * state in {@code stateDir}. A state dir of another image or another local disk (or size) is refused; a
     * local disk smaller than the image is refused; a missing local disk is created sparse, of the image's size.
     * Resumes where a previous run stopped: regions present then are not fetched again.
     */
    public static MediatedDisk open(Export source, Path localDisk, Path stateDir, MediatorOptions options)
            throws IOException {
        long size = source.size();
        int regionSize = options.regionSize();
        long regionCount = (size + regionSize - 1) / regionSize;
        ImageExtents extents = options.sourceExtents();
        if (extents != null && extents.size() != size) {
            // Trusting another image's map would skip fetching its data: the guest would read zeros.
            throw new IOException("the extents map describes an image of " + extents.size() + " bytes, but the image is "
                    + size + " bytes; it belongs to another image");
        }
        if (regionCount > Integer.MAX_VALUE - 16) {
            throw new IOException("image of " + size + " bytes has too many " + regionSize + "-byte regions;"
                    + " use a larger region size");
        }
        Files.createDirectories(stateDir);
        FileChannel lock = StateDir.lock(stateDir);
        try {
            return open(source, localDisk, stateDir, options, lock);
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private static MediatedDisk open(Export source, Path localDisk, Path stateDir, MediatorOptions options,
            FileChannel lock) throws IOException {
        long size = source.size();
        int regionSize = options.regionSize();
        long regionCount = (size + regionSize - 1) / regionSize;
        Durability durability = options.durability();
        Path identityFile = stateDir.resolve(StateDir.IDENTITY);
        boolean existing = Files.exists(identityFile);
        StateDir.Identity stored = existing ? StateDir.Identity.readFrom(stateDir) : null;
        if (stored != null) {
            // Refuse before touching the local disk: it may belong to the other image.
            StateDir.Identity probe = new StateDir.Identity(options.imageIdentity(), size, stored.diskSize(), regionSize,
                    stored.local(), stored.localKey(), stored.localCreated());
            probe.check(stored, stateDir, false);
            if (!Files.exists(localDisk)) {
                throw new IOException("state dir " + stateDir + " describes the local disk " + stored.local()
                        + " but " + localDisk + " does not exist; the region map would not match its contents");
            }
        }
        LocalDisk local = LocalDisk.open(localDisk, size, durability);
        LiveMap live = null;
        CommittedMap committed = null;
        try {
            StateDir.Identity mine = new StateDir.Identity(options.imageIdentity(), size, local.size(), regionSize,
                    localDisk.toAbsolutePath().toString(), local.fileKey(),
                    stored != null ? stored.localCreated() : local.created());
            String bootId = options.bootId().bootId();
            if (stored != null) {
                mine.check(stored, stateDir, local.blockDevice());
                committed = CommittedMap.open(stateDir.resolve(StateDir.COMMITTED), regionCount, regionSize, durability);
                live = LiveMap.open(stateDir.resolve(StateDir.LIVE), regionCount);
                String liveBoot = live.bootId();
                boolean processCrash = live.wasValid() && bootId != null && bootId.equals(liveBoot);
                if (!processCrash) {
                    // The machine went down (or the live map is gone): the page cache, and with it any data
                    // not forced, may be lost. Only the committed bits are known to have their data.
                    // Bits first, boot id last: a crash in between leaves the old boot id, so this repeats.
                    live.load(committed.bits());
                    live.bootId(bootId);
                }
            } else {
                // Fresh state: the committed map (empty, forced) and the live map first, the identity file
                // last, so that an identity file means a complete state dir.
                committed = CommittedMap.create(stateDir.resolve(StateDir.COMMITTED), regionCount, regionSize,
                        durability);
                live = LiveMap.open(stateDir.resolve(StateDir.LIVE), regionCount);
                live.load(new long[LiveMap.words(regionCount)]);
                live.bootId(bootId);
                mine.writeTo(stateDir, durability);
            }
            boolean knownZero = mine.localCreated() && !local.blockDevice();
            return new MediatedDisk(source, stateDir, options, local, live, committed, knownZero, lock);
        } catch (IOException | RuntimeException e) {
            if (live != null) live.close();
            if (committed != null) committed.close();
            local.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- Export

    @Override
    public String name() {
        return name;
    }

    @Override
    public String description() {
        return "mediated " + options.imageIdentity();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public boolean completesQuickly(long offset, long length) {
        return length == 0 || offset >= imageSize
                || map.allPresent(regionOf(offset), regionOf(Math.min(offset + length, imageSize) - 1));
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int length = dst.remaining();
        if (length == 0) return;
        enter();
        try {
            if (offset < imageSize) {
                int first = regionOf(offset);
                int last = regionOf(Math.min(offset + length, imageSize) - 1);
                if (!map.allPresent(first, last)) {
                    try {
                        ensurePresent(first, last);
                    } catch (LocalDiskFull full) {
                        readPassingThrough(offset, dst);
                        return;
                    }
                }
            }
            // Every region of the request is PRESENT, and past the image all is local: its local bytes are the truth.
            local.read(offset, dst);
        } finally {
            exit();
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int length = src.remaining();
        if (length == 0) {
            if (fua) flush();
            return;
        }
        enter();
        try {
            int base = src.position();
            writeThrough(offset, length, (from, to) -> {
                ByteBuffer piece = src.duplicate();
                piece.position(base + (int) (from - offset)).limit(base + (int) (to - offset));
                local.write(from, piece);
            });
            src.position(src.limit());
            if (fua) commit();
        } finally {
            exit();
        }
    }

    @Override
    public void flush() throws IOException {
        enter();
        try {
            commit();
        } finally {
            exit();
        }
    }

    /**
     * Zeroes the regions the range covers wholly (zeroing them is what spares their fetch) and the covered part
     * of a partly covered region that is already local. A partly covered region that is not local yet keeps its
     * bytes: TRIM is only a hint, and honouring it there would mean fetching the region first, which fails
     * while the image server is away.
     */
    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        long start = offset;
        long end = offset + length;
        if (start < imageSize && length > 0) {
            int r = regionOf(start);
            if (start > regionStart(r) && !map.isPresent(r)) start = Math.min(end, regionEnd(r));
        }
        if (end < imageSize && end > start) {
            int r = regionOf(end - 1);
            if (end < regionEnd(r) && !map.isPresent(r)) end = Math.max(start, regionStart(r));
        }
        writeZeroes(start, end - start, false, false, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        if (length == 0) {
            if (fua) flush();
            return;
        }
        enter();
        try {
            // In slices on region boundaries, so a 32 GiB discard does not claim 32 GiB of regions at once.
            long slice = Math.max(regionSize, MAX_ZERO_SLICE);
            for (long pos = offset, end = offset + length; pos < end; ) {
                long next = Math.min(end, (pos / slice + 1) * slice);
                writeThrough(pos, next - pos, (from, to) -> local.zero(from, to - from, noHole));
                pos = next;
            }
            if (fua) commit();
        } finally {
            exit();
        }
    }

    @Override
    public void cache(long offset, long length) throws IOException {
        if (length == 0) return;
        enter();
        try {
            if (offset < imageSize) ensurePresent(regionOf(offset), regionOf(Math.min(offset + length, imageSize) - 1));
        } finally {
            exit();
        }
    }

    /**
     * Present regions are data; absent regions that are holes in the image are holes; past the image, data.
     * Always a correct answer, never more precise than it is cheap to be.
     */
    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        long end = Math.min(size, offset + length);
        long pos = offset;
        int runFlags = -1;
        long runStart = offset;
        while (pos < end) {
            long rEnd;
            int flags;
            if (pos >= imageSize) {
                rEnd = end;
                flags = 0;
            } else {
                int r = regionOf(pos);
                rEnd = Math.min(end, regionEnd(r));
                flags = !map.isPresent(r) && holes.isZero(r) ? Nbd.STATE_HOLE | Nbd.STATE_ZERO : 0;
            }
            if (runFlags >= 0 && flags != runFlags) {
                if (!sink.extent(pos - runStart, runFlags)) return;
                runStart = pos;
            }
            runFlags = flags;
            pos = rEnd;
        }
        if (runFlags >= 0) sink.extent(pos - runStart, runFlags);
    }

    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) return;
        stopHousekeeping();
        try {
            commit();
        } finally {
            releaseResources();
        }
    }

    /**
     * Dies like {@code kill -9}: no commit, no flush; the files keep whatever the kernel holds.
     * Visible for testing.
     */
    void simulateProcessCrash() throws IOException {
        if (!closed.compareAndSet(false, true)) return;
        stopHousekeeping();
        releaseResources();
    }

    private void releaseResources() throws IOException {
        try {
            profileRecorder.close();
        } finally {
            try {
                local.close();
            } finally {
                try {
                    committed.close();
                } finally {
                    try {
                        live.close();
                    } finally {
                        lock.close();
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- the slow paths

    /** Makes regions {@code first..last} PRESENT: fetches the absent ones, waits for those in flight. */
    private void ensurePresent(int first, int last) throws IOException {
        for (;;) {
            boolean othersFetching = false;
            int r = first;
            while (r <= last) {
                byte st = map.state(r);
                if (st == RegionMap.PRESENT) {
                    r++;
                } else if (st == RegionMap.FETCHING) {
                    othersFetching = true;
                    r++;
                } else {
                    // Claim the run of absent regions from here and fetch it in one source read.
                    int s = r;
                    while (r <= last && map.tryClaim(r)) r++;
                    if (r > s) fill(s, r - s, true);
                    // r == s: lost the race for r; look at it again.
                }
            }
            if (!othersFetching) return;
            // Holding no claim now: wait for the fetches of other requests.
            for (int w = first; w <= last; w++) {
                if (awaitSettled(w) == RegionMap.ABSENT) {
                    // That fetch could not store its bytes: the local disk is full, not the image server failing.
                    if (local.full()) throw new LocalDiskFull(lastError == null ? "local disk full" : lastError, null);
                    throw new NbdException(Nbd.EIO, "fetch of region " + w + " (offset " + regionStart(w)
                            + ") failed: " + (lastError == null ? "image server error" : lastError));
                }
            }
        }
    }

    /**
     * Serves a read while the local disk is full: what is local from the local disk, the rest straight from the
     * image, storing nothing. A guest must still read its disk while the copy waits for space.
     */
    private void readPassingThrough(long offset, ByteBuffer dst) throws IOException {
        int base = dst.position();
        long end = offset + dst.remaining();
        long pos = offset;
        while (pos < end) {
            long runEnd;
            boolean isLocal;
            if (pos >= imageSize) {
                runEnd = end;
                isLocal = true;
            } else {
                isLocal = map.isPresent(regionOf(pos));
                runEnd = Math.min(end, regionEnd(regionOf(pos)));
                while (runEnd < Math.min(end, imageSize) && map.isPresent(regionOf(runEnd)) == isLocal) {
                    runEnd = Math.min(end, regionEnd(regionOf(runEnd)));
                }
            }
            ByteBuffer piece = dst.duplicate();
            piece.position(base + (int) (pos - offset)).limit(base + (int) (runEnd - offset));
            if (isLocal) {
                local.read(pos, piece);
            } else {
                source.read(pos, piece);
                if (piece.hasRemaining()) throw new NbdException(Nbd.EIO, "image source returned a short read at " + pos);
                bytesOnDemand.add(runEnd - pos);
            }
            pos = runEnd;
        }
        dst.position(dst.limit());
    }

    /** The local half of a write: writes (or zeroes) bytes {@code [from, to)} of the request. */
    @FunctionalInterface
    private interface LocalWrite {
        void apply(long from, long to) throws IOException;
    }

    /**
     * Applies a guest write (or zeroing) of {@code [offset, offset+length)}. Regions it covers partially
     * need their old bytes first: they are made PRESENT before anything else. Regions it covers wholly need
     * nothing from the image: an ABSENT one is claimed (so no fetch can start and later overwrite it), written,
     * and made PRESENT. A region being filled by someone else is waited for, after first completing what
     * we hold, so that this request never waits while it owns a claim.
     */
    private void writeThrough(long offset, long length, LocalWrite op) throws IOException {
        long end = offset + length;
        if (end > imageSize) {
            // Past the image nothing is fetched and no fetch can land later: write it as it is.
            op.apply(Math.max(offset, imageSize), end);
            if (offset >= imageSize) return;
            end = imageSize;
        }
        int first = regionOf(offset);
        int last = regionOf(end - 1);
        if (map.allPresent(first, last)) {
            op.apply(offset, end);
            return;
        }
        if (!covers(first, offset, end)) ensurePresent(first, first);
        if (last != first && !covers(last, offset, end)) ensurePresent(last, last);
        int[] claimed = new int[last - first + 1];
        int nClaimed = 0;
        int segment = first;
        int r = first;
        while (r <= last) {
            byte st = map.state(r);
            if (st == RegionMap.PRESENT) {
                r++;
            } else if (st == RegionMap.ABSENT && covers(r, offset, end)) {
                if (map.tryClaim(r)) claimed[nClaimed++] = r++;
            } else if (st == RegionMap.ABSENT) {
                // Only an edge region can be partial, and it was made PRESENT above; PRESENT is final.
                throw new IllegalStateException("partial region " + r + " absent after its fetch");
            } else {
                applySegment(op, offset, end, segment, r - 1, claimed, nClaimed);
                nClaimed = 0;
                awaitSettled(r); // PRESENT: write into it; ABSENT (its fetch failed): claim it next round
                segment = r;
            }
        }
        applySegment(op, offset, end, segment, last, claimed, nClaimed);
    }

    /** Writes the part of the request inside regions {@code a..b}, then makes the claimed ones PRESENT. */
    private void applySegment(LocalWrite op, long offset, long end, int a, int b, int[] claimed, int n)
            throws IOException {
        if (b < a) return;
        boolean ok = false;
        try {
            op.apply(Math.max(offset, regionStart(a)), Math.min(end, regionEnd(b)));
            ok = true;
        } finally {
            for (int i = 0; i < n; i++) {
                // Data before bit (markPresent sets the live bit, then publishes PRESENT); both before the ack.
                if (ok) map.markPresent(claimed[i]);
                else map.release(claimed[i]);
            }
        }
    }

    /**
     * Fills the claimed regions {@code [first, first+n)} from the image: holes without transfer, data in
     * source reads of up to {@link #MAX_FETCH}. Each region is made PRESENT once its bytes are in the local
     * disk. On failure the regions not yet PRESENT are released (ABSENT) and EIO is thrown: waiters fail,
     * nobody reads a region whose bytes did not arrive. Returns the bytes transferred.
     */
    private long fill(int first, int n, boolean onDemand) throws IOException {
        long askedNs = System.nanoTime(); // when the guest asked: the boot profile's time for this read
        int end = first + n;
        int done = first; // regions before this are PRESENT
        long transferred = 0;
        try {
            while (done < end) {
                int s = done;
                if (holes.isZero(s)) {
                    int e = s + 1;
                    while (e < end && holes.isZero(e)) e++;
                    if (!localKnownZero) local.zero(regionStart(s), regionEnd(e - 1) - regionStart(s), false);
                    for (; done < e; done++) map.markPresent(done);
                    regionsFromHoles.add(e - s);
                    continue;
                }
                int e = s + 1;
                while (e < end && ((long) (e - s + 1) << regionShift) <= MAX_FETCH && !holes.isZero(e)) e++;
                long off = regionStart(s);
                int len = (int) (regionEnd(e - 1) - off);
                if (local.full()) {
                    // Still no room since the last write failed: do not fetch what cannot be stored.
                    long free = local.freeBytes();
                    if (free >= 0 && free < len) {
                        throw new LocalDiskFull("local disk " + local.path() + " is full: " + Units.formatSize(free)
                                + " free on its file system, " + Units.formatSize(len) + " needed to store offset " + off, null);
                    }
                }
                ByteBuffer buf = acquireFetchBuffer(len);
                try {
                    source.read(off, buf);
                    if (buf.hasRemaining()) throw new IOException("image source returned " + buf.position() + " of " + len + " bytes");
                    buf.flip();
                    local.write(off, buf);
                } finally {
                    fetchBuffers.release(len);
                }
                // The data is in the local disk's page cache: now the regions may be PRESENT.
                for (; done < e; done++) map.markPresent(done);
                transferred += len;
                (onDemand ? bytesOnDemand : bytesBackground).add(len);
                if (onDemand) profileRecorder.record(off, len, askedNs);
            }
            return transferred;
        } catch (Throwable e) {
            // Any Throwable, an OutOfMemoryError included: a region left FETCHING would stall its readers for ever.
            for (int r = done; r < end; r++) map.release(r);
            if (e instanceof LocalDiskFull full) {
                lastError = full.getMessage();
                throw full;
            }
            sourceErrors.incrementAndGet();
            lastError = describe(e);
            if (e instanceof NbdException ne && ne.error() == Nbd.EIO) throw ne;
            throw new NbdException(Nbd.EIO, "fetching offset " + regionStart(done) + " failed: " + describe(e), e);
        }
    }

    /** A heap buffer of {@code len} bytes, once the fetch buffers in use leave room for it. */
    private ByteBuffer acquireFetchBuffer(int len) throws IOException {
        try {
            fetchBuffers.acquire(len);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdException(Nbd.EIO, "interrupted while waiting for a fetch buffer", e);
        }
        try {
            return ByteBuffer.allocate(len);
        } catch (Throwable e) {
            fetchBuffers.release(len);
            throw e;
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return e instanceof Error ? e.getClass().getSimpleName() + ": " + m : m;
    }

    private byte awaitSettled(int r) throws IOException {
        try {
            return map.awaitSettled(r);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NbdException(Nbd.EIO, "interrupted while waiting for region " + r, e);
        }
    }

    // ---------------------------------------------------------------- commit

    /**
     * Makes every write acknowledged before this call, and the PRESENT bits of every region filled before
     * it, durable. Concurrent callers share commits: a commit that began after a caller arrived covers it.
     */
    public void commit() throws IOException {
        long ticket = commitsStarted.get();
        commitLock.lock();
        try {
            String failed = syncFailure;
            if (failed != null) throw new NbdException(Nbd.EIO, failed);
            if (commitsCompleted > ticket) return;
            long seq = commitsStarted.incrementAndGet();
            long transitions = map.transitions();
            // (1) Snapshot the live bits. Each was set after its region's data was written to the local
            //     disk, so the data of every bit in the snapshot is already in the page cache.
            long[] bits = live.snapshot();
            // (2) Force the local disk: that data, and every write acknowledged before we were called, is
            //     now on stable storage.
            try {
                local.force();
            } catch (IOException e) {
                failed = "local disk " + local.path() + " failed to sync (" + describe(e) + "): writes acknowledged"
                        + " before may be lost, so every later flush fails and the region map is no longer committed;"
                        + " deploy again on a sound disk";
                syncFailure = failed;
                lastError = failed;
                phase = Phase.FAILED; // the status says so at once, not only when the background copy next commits
                throw new NbdException(Nbd.EIO, failed, e);
            }
            // (3) Only now may those bits become durable. Bits set after (1) wait for the next commit: their
            //     data was not necessarily covered by (2).
            if (!Arrays.equals(bits, committed.bits())) committed.commit(bits);
            transitionsCommitted = transitions;
            commitsCompleted = seq;
        } finally {
            commitLock.unlock();
        }
    }

    /** Commits if regions became PRESENT since the last commit; the housekeeper's and hydrator's periodic call. */
    void commitIfChanged() throws IOException {
        long t = map.transitions();
        boolean changed;
        commitLock.lock();
        try {
            changed = t != transitionsCommitted;
        } finally {
            commitLock.unlock();
        }
        if (changed) commit();
    }

    /**
     * When every region is present: commits, then reports HYDRATED and completes {@link #hydrated()}.
     * Returns true once hydrated.
     */
    boolean completeIfHydrated() throws IOException {
        if (hydrated.isDone()) return true;
        if (map.presentCount() < regions) return false;
        commit();
        phase = Phase.HYDRATED;
        hydrated.complete(null);
        return true;
    }

    // ---------------------------------------------------------------- progress and housekeeping

    /**
     * Completes once every region is local and that fact is committed: the VMM may then flush, re-point
     * the guest's disk at the local disk, and let the mediator go.
     */
    public CompletableFuture<Void> hydrated() {
        return hydrated;
    }

    public boolean isHydrated() {
        return hydrated.isDone();
    }

    public int regionSize() {
        return regionSize;
    }

    public int regions() {
        return regions;
    }

    public long regionsPresent() {
        return map.presentCount();
    }

    /** The image's size: bytes past it were never the image's. */
    public long imageSize() {
        return imageSize;
    }

    public Path stateDir() {
        return stateDir;
    }

    public Path localDisk() {
        return local.path();
    }

    public Phase phase() {
        return phase;
    }

    /**
     * Where a store image's chunks come from, for the status (the source export counts them; this disk only reports).
     * Set once, before housekeeping starts.
     */
    public void reportSources(Supplier<MediatorStatus.Sources> s) {
        this.sources = s;
    }

    public MediatorStatus status(long nowNs) {
        long onDemand = bytesOnDemand.sum();
        long background = bytesBackground.sum();
        double r;
        synchronized (rateLock) {
            long total = onDemand + background;
            if (rateSampleNs == Long.MIN_VALUE) {
                rateSampleNs = nowNs;
                rateSampleBytes = total;
            } else if (nowNs - rateSampleNs >= 500_000_000L) {
                rate = (total - rateSampleBytes) * 1e9 / (nowNs - rateSampleNs);
                rateSampleNs = nowNs;
                rateSampleBytes = total;
            }
            r = rate;
        }
        return new MediatorStatus(name, size, imageSize, regionSize, regions, map.presentCount(), onDemand, background,
                regionsFromHoles.sum(), phase, r, sourceErrors.get(), lastError, hydrationReport,
                sources == null ? null : sources.get());
    }

    /** Writes {@link #status} as {@code status.json} in the state dir (temp file and rename: readers never see half). */
    public void writeStatusFile(long nowNs) throws IOException {
        Path tmp = stateDir.resolve(StateDir.STATUS + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap((status(nowNs).toJson() + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) ch.write(b);
        }
        Files.move(tmp, stateDir.resolve(StateDir.STATUS), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Starts a daemon thread that commits every {@code commitIntervalNs} when regions changed, writes
     * the status file every {@code statusIntervalNs}, and completes {@link #hydrated()} when the guest's own
     * I/O finished the disk.
     */
    public synchronized void startHousekeeping() {
        if (housekeeper != null || closed.get()) return;
        Thread t = Thread.ofPlatform().daemon().name("bmcast-housekeeper-" + name).unstarted(this::housekeep);
        housekeeper = t;
        t.start();
    }

    private void housekeep() {
        long tick = Math.max(1_000_000L, Math.min(options.commitIntervalNs(), options.statusIntervalNs()));
        long nextCommit = System.nanoTime() + options.commitIntervalNs();
        long nextStatus = System.nanoTime();
        while (!closed.get() && !Thread.currentThread().isInterrupted()) {
            long now = System.nanoTime();
            try {
                if (now - nextCommit >= 0) {
                    nextCommit = now + options.commitIntervalNs();
                    commitIfChanged();
                    completeIfHydrated();
                }
                if (now - nextStatus >= 0) {
                    nextStatus = now + options.statusIntervalNs();
                    writeStatusFile(now);
                }
            } catch (IOException | RuntimeException e) {
                if (closed.get()) return;
                lastError = "housekeeping: " + describe(e);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(tick);
        }
    }

    private void stopHousekeeping() {
        Thread t;
        synchronized (this) {
            t = housekeeper;
            housekeeper = null;
        }
        if (t == null) return;
        t.interrupt();
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- for the hydrator

    /** Guest requests being served now. */
    int guestInFlight() {
        return guestInFlight.get();
    }

    /** When the last guest request finished (System.nanoTime), or {@code Long.MIN_VALUE}. */
    long lastGuestIoNs() {
        return lastGuestIoNs;
    }

    RegionMap map() {
        return map;
    }

    boolean isClosed() {
        return closed.get();
    }

    int[] profileOrder() {
        return profileOrder;
    }

    /** The hydrator's share and deadline, for the status; null while no hydrator runs (remote-only). */
    void hydrationReport(MediatorStatus.Hydration h) {
        hydrationReport = h;
    }

    /**
     * Bytes of data still to copy, estimated: regions not present, less those known to be holes; in the parts of
     * the image whose block status is not known yet, the share of data seen in the parts that are. A walk of the
     * whole map (512 Ki regions for 32 GiB: about a millisecond), so callers ask now and then.
     */
    long remainingBytesEstimate() {
        long knownData = 0, knownTotal = 0, unknownAbsent = 0, absentData = 0;
        for (int r = 0; r < regions; r++) {
            boolean known = holes.known(r);
            boolean zero = known && holes.knownZero(r);
            if (known) {
                knownTotal++;
                if (!zero) knownData++;
            }
            if (map.isPresent(r)) continue;
            if (!known) unknownAbsent++;
            else if (!zero) absentData++;
        }
        double dataShare = knownTotal == 0 ? 1.0 : (double) knownData / knownTotal;
        return (long) ((absentData + unknownAbsent * dataShare) * regionSize);
    }

    /**
     * Null when the local disk's file system has room for the image's data not yet local; else why not, naming
     * the local disk, the free space and what is needed. Asks the image server for block status (once, cached):
     * holes need no room. A block device always has room for the image (it is at least as large).
     */
    public String lowSpace() throws IOException {
        long free = local.freeBytes();
        if (free < 0 || free >= imageSize) return null; // room for all of it: no need to ask where the holes are
        long needed = 0;
        for (int r = 0; r < regions; r++) {
            if (!map.isPresent(r) && !holes.isZero(r)) needed += regionEnd(r) - regionStart(r);
        }
        if (needed <= free) return null;
        return "local disk " + local.path() + " has " + Units.formatSize(free) + " free on its file system, but the"
                + " image still needs " + Units.formatSize(needed) + " (its data not yet local)";
    }

    /** True while the local disk has no room for the last write that tried (the background copy waits). */
    boolean localFull() {
        return local.full();
    }

    /** Why the local disk failed to sync (and so nothing more is committed), or null. */
    String localFailure() {
        return syncFailure;
    }

    void hydratorPhase(Phase p, String error) {
        if (phase == Phase.HYDRATED || syncFailure != null) return; // a failed sync is final: the status keeps saying so
        phase = p;
        if (error != null) lastError = error;
    }

    /**
     * Background copy of up to {@code maxRegions} consecutive ABSENT regions from {@code first}: claims as
     * many as are still ABSENT (stopping at the first that is not) and fills them. Returns the bytes
     * transferred (0 for holes, or when {@code first} was no longer ABSENT).
     */
    long hydrateRun(int first, int maxRegions) throws IOException {
        int n = claimRun(first, maxRegions);
        return n == 0 ? 0 : fillClaimed(first, n);
    }

    /**
     * How many regions from {@code first} (at most {@code max}) are known holes of the image, without asking the
     * source: copying them moves no bytes, so one batch can take the whole run.
     */
    int knownHoleRun(int first, int max) {
        int end = (int) Math.min(regions, (long) first + max);
        int r = first;
        while (r < end && holes.knownZero(r)) r++;
        return r - first;
    }

    /** Claims (ABSENT to FETCHING) up to {@code maxRegions} consecutive regions from {@code first}; no I/O. */
    int claimRun(int first, int maxRegions) {
        int r = first;
        int end = (int) Math.min(regions, (long) first + maxRegions);
        while (r < end && map.tryClaim(r)) r++;
        return r - first;
    }

    /** Fetches and stores {@code n} regions from {@code first} that the caller {@linkplain #claimRun claimed}. */
    long fillClaimed(int first, int n) throws IOException {
        return fill(first, n, false);
    }

    // ---------------------------------------------------------------- arithmetic

    private void enter() throws IOException {
        if (closed.get()) throw new NbdException(Nbd.ESHUTDOWN, "mediated disk " + name + " is closed");
        guestInFlight.incrementAndGet();
    }

    private void exit() {
        lastGuestIoNs = System.nanoTime();
        guestInFlight.decrementAndGet();
    }

    private int regionOf(long offset) {
        return (int) (offset >>> regionShift);
    }

    private long regionStart(int r) {
        return (long) r << regionShift;
    }

    /** End of region {@code r}: the image's last region may be short. */
    private long regionEnd(int r) {
        return Math.min(imageSize, (long) (r + 1) << regionShift);
    }

    private boolean covers(int r, long offset, long end) {
        return offset <= regionStart(r) && end >= regionEnd(r);
    }
}
