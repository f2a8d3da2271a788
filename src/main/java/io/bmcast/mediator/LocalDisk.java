package io.bmcast.mediator;

import io.bmcast.util.Units;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The machine's own disk (a file or a block device) with positional I/O. Safe for concurrent use:
 * {@link FileChannel} positional reads and writes do not share a file position.
 */
final class LocalDisk implements AutoCloseable {
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final boolean created;
    private final boolean blockDevice;
    private final Durability durability;
    private final Punch punch;
    private final java.util.concurrent.atomic.AtomicBoolean punchedSinceForce = new java.util.concurrent.atomic.AtomicBoolean();
    /** Set when a write found no space, cleared by the next write that succeeds. */
    private volatile boolean full;
    /** Runs just before a hole is punched. Visible for testing (a commit racing the punch). */
    volatile Runnable beforePunch;

    private LocalDisk(Path path, FileChannel channel, long size, boolean created, boolean blockDevice,
            Durability durability) {
        this.path = path;
        this.channel = channel;
        this.size = size;
        this.created = created;
        this.blockDevice = blockDevice;
        this.durability = durability;
        this.punch = Punch.open(path);
    }

    /**
     * Opens {@code path}, creating it as a sparse file of {@code imageSize} bytes when missing (durably: the new
     * file's size and directory entry are forced). An existing file or device must hold at least the image: a
     * machine's disk is usually larger, and what lies past the image is the tenant's.
     */
    static LocalDisk open(Path path, long imageSize, Durability durability) throws IOException {
        boolean created = false;
        if (!Files.exists(path)) {
            Path dir = path.toAbsolutePath().getParent();
            try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
                raf.setLength(imageSize); // sparse: no block is allocated until written
            }
            created = true;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
                durability.force(ch, path, true);
            }
            durability.syncDirectory(dir);
        }
        boolean blockDevice = !Files.isRegularFile(path);
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        long actual;
        try {
            actual = ch.size(); // a block device's size too (the JDK asks BLKGETSIZE64)
            if (actual < imageSize) {
                throw new IOException("local disk " + path + " is " + actual + " bytes (" + Units.formatSize(actual)
                        + "), smaller than the image's " + imageSize + " bytes (" + Units.formatSize(imageSize)
                        + "); give a disk at least as large as the image (or a path that does not exist yet, to have"
                        + " it created sparse)");
            }
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        return new LocalDisk(path, ch, actual, created, blockDevice, durability);
    }

    /** The whole disk's size: the image fills its start, the rest is the tenant's. */
    long size() {
        return size;
    }

    Path path() {
        return path;
    }

    /** True when this call created the file: every byte not written since reads as zero. */
    boolean created() {
        return created;
    }

    boolean blockDevice() {
        return blockDevice;
    }

    /** Identifies the file (device and inode) so a state dir is not reused over a different disk. */
    String fileKey() throws IOException {
        Object key = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        return key == null ? "" : key.toString();
    }

    void read(long offset, ByteBuffer dst) throws IOException {
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) throw new IOException("local disk " + path + " ended at " + pos);
            pos += n;
        }
    }

    void write(long offset, ByteBuffer src) throws IOException {
        long pos = offset;
        try {
            while (src.hasRemaining()) pos += channel.write(src, pos);
        } catch (IOException e) {
            if (!noSpace(e)) throw e;
            full = true;
            long free = freeBytes();
            throw new LocalDiskFull("local disk " + path + " is full: " + (free < 0 ? "no" : Units.formatSize(free))
                    + " space free on its file system, " + Units.formatSize(src.remaining()) + " more needed (a write of "
                    + Units.formatSize(pos - offset + src.remaining()) + " at offset " + offset + ")", e);
        }
        full = false;
    }

    /** True when the last write found the local disk full (and none has succeeded since). */
    boolean full() {
        return full;
    }

    /** Bytes free for us on the local disk's file system, or -1 when unknown (a block device has no such thing). */
    long freeBytes() {
        if (blockDevice) return -1;
        try {
            return Files.getFileStore(path).getUsableSpace();
        } catch (IOException e) {
            return -1;
        }
    }

    /** ENOSPC or EDQUOT, as the JDK words them (it reports errno's strerror text, the C locale's). */
    private static boolean noSpace(IOException e) {
        String m = e.getMessage();
        return m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded"));
    }

    /**
     * Makes {@code [offset, offset+length)} read as zeros: punches a hole where the kernel can (or, with
     * {@code noHole}, zeroes the range in place and keeps its blocks allocated), else writes zeros.
     */
    void zero(long offset, long length, boolean noHole) throws IOException {
        if (length <= 0) return;
        if (punch != null) {
            Runnable hook = beforePunch;
            if (hook != null) hook.run();
            if (noHole ? punch.zeroRange(offset, length) : punch.punch(offset, length)) {
                // Set after the allocation changed, never before: a commit that clears the flag between a
                // set-before and the punch would sync metadata too early, and the next force (the FUA
                // zeroing's own) would skip it.
                punchedSinceForce.set(true);
                return;
            }
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int n = (int) Math.min(ZERO_CHUNK, end - pos);
            ByteBuffer z = ZEROS.duplicate();
            z.limit(n);
            write(pos, z);
            pos += n;
        }
    }

    /** fdatasync: every write that returned before this call is on stable storage when it returns. */
    void force() throws IOException {
        // A punched hole is a change of block allocation: fdatasync may not carry it, fsync does.
        boolean metadata = punchedSinceForce.getAndSet(false);
        durability.force(channel, path, metadata);
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (punch != null) punch.close();
        }
    }

    /**
     * {@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)} through the FFM API: frees the blocks
     * of a file (reads then return zeros, also through the page cache), or zeroes a range of a block device
     * without sending the zeros. Null when native access is unavailable; callers then write zeros.
     */
    private static final class Punch implements AutoCloseable {
        private static final int O_RDWR = 2;
        private static final int O_CLOEXEC = 0x80000;
        private static final int PUNCH_HOLE_KEEP_SIZE = 0x02 | 0x01;
        /** {@code FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE}: zeros, blocks stay allocated (ext4, xfs; not tmpfs). */
        private static final int ZERO_RANGE_KEEP_SIZE = 0x10 | 0x01;
        private static final MethodHandle OPEN;
        private static final MethodHandle FALLOCATE;
        private static final MethodHandle CLOSE;

        static {
            MethodHandle open = null, fallocate = null, close = null;
            try {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                open = linker.downcallHandle(libc.find("open").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT),
                        Linker.Option.firstVariadicArg(2));
                fallocate = linker.downcallHandle(libc.find("fallocate").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                close = linker.downcallHandle(libc.find("close").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            } catch (Throwable t) {
                open = fallocate = close = null; // not Linux, or native access denied: write zeros instead
            }
            OPEN = open;
            FALLOCATE = fallocate;
            CLOSE = close;
        }

        private final int fd;
        private volatile boolean works = true;
        private volatile boolean zeroRangeWorks = true;

        private Punch(int fd) {
            this.fd = fd;
        }

        static Punch open(Path path) {
            if (OPEN == null) return null;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment cpath = arena.allocateFrom(path.toAbsolutePath().toString());
                int fd = (int) OPEN.invokeExact(cpath, O_RDWR | O_CLOEXEC, 0);
                return fd < 0 ? null : new Punch(fd);
            } catch (Throwable t) {
                return null;
            }
        }

        boolean punch(long offset, long length) {
            if (!works) return false;
            try {
                int rc = (int) FALLOCATE.invokeExact(fd, PUNCH_HOLE_KEEP_SIZE, offset, length);
                if (rc == 0) return true;
            } catch (Throwable t) {
                // fall through
            }
            works = false; // EOPNOTSUPP and friends do not go away: stop asking
            return false;
        }

        /** Zeroes the range keeping its blocks; false when the kernel cannot here (callers then write zeros). */
        boolean zeroRange(long offset, long length) {
            if (!zeroRangeWorks) return false;
            try {
                int rc = (int) FALLOCATE.invokeExact(fd, ZERO_RANGE_KEEP_SIZE, offset, length);
                if (rc == 0) return true;
            } catch (Throwable t) {
                // fall through
            }
            zeroRangeWorks = false;
            return false;
        }

        @Override
        public void close() {
            try {
                int rc = (int) CLOSE.invokeExact(fd);
                assert rc == 0 || rc == -1;
            } catch (Throwable t) {
                // nothing to do
            }
        }
    }
}
