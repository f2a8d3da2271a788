package io.bmcast.storage;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * A file descriptor of our own, opened through the Foreign Function &amp; Memory API, for the calls
 * {@link java.nio.channels.FileChannel} does not offer: {@code lseek(SEEK_DATA/SEEK_HOLE)} to map
 * allocation, {@code fallocate(PUNCH_HOLE / ZERO_RANGE)} to discard or zero without writing, and
 * {@code lseek(SEEK_END)} to size block devices (whose {@code st_size} is 0).
 *
 * <p>Only the offset-free calls are made on this descriptor, so sharing it between threads is safe:
 * {@code lseek} with SEEK_DATA/SEEK_HOLE moves the descriptor's position, which nobody reads.
 */
public final class FileHoles implements AutoCloseable {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 0x80000;
    static final int SEEK_END = 2;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int ENXIO = 6;
    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle LSEEK = downcall("lseek",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle FALLOCATE = downcall("fallocate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] opts = new Linker.Option[extra.length + 1];
        opts[0] = ERRNO_OPTION;
        System.arraycopy(extra, 0, opts, 1, extra.length);
        MemorySegment sym = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(sym, fd, opts);
    }

    /** A failed system call: the errno it set. */
    public static final class ErrnoException extends IOException {
        private final int errno;

        ErrnoException(String call, int errno) {
            super(call + " failed: errno " + errno);
            this.errno = errno;
        }

        public int errno() {
            return errno;
        }
    }

    private final Path path;
    private volatile int fd;

    private FileHoles(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    public static FileHoles open(Path path, boolean writable) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            MemorySegment cpath = arena.allocateFrom(path.toString());
            int fd = (int) OPEN.invokeExact(state, cpath, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
            if (fd < 0) throw new ErrnoException("open(" + path + ")", errno(state));
            return new FileHoles(path, fd);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    /** The file's size from {@code lseek(SEEK_END)}, which also works for block devices. */
    public long size() throws IOException {
        return lseek(0, SEEK_END);
    }

    /**
     * The next offset at or after {@code offset} holding data, or -1 when only a hole remains up to
     * the end of the file.
     */
    public long nextData(long offset) throws IOException {
        try {
            return lseek(offset, SEEK_DATA);
        } catch (ErrnoException e) {
            if (e.errno() == ENXIO) return -1;
            throw e;
        }
    }

    /** The next hole at or after {@code offset} (the end of the file counts as a hole). */
    public long nextHole(long offset) throws IOException {
        return lseek(offset, SEEK_HOLE);
    }

    /** Deallocates a range, keeping the file size; afterwards it reads as zeros. */
    public void punchHole(long offset, long length) throws IOException {
        fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    /** Zeroes a range, leaving it allocated. */
    public void zeroRange(long offset, long length) throws IOException {
        fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    private long lseek(long offset, int whence) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            long r = (long) LSEEK.invokeExact(state, checkOpen(), offset, whence);
            if (r < 0) throw new ErrnoException("lseek(" + path + ", " + offset + ", " + whence + ")", errno(state));
            return r;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    private void fallocate(int mode, long offset, long length) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) FALLOCATE.invokeExact(state, checkOpen(), mode, offset, length);
            if (r < 0) throw new ErrnoException("fallocate(" + path + ", mode " + mode + ")", errno(state));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    private int checkOpen() throws IOException {
        int f = fd;
        if (f < 0) throw new IOException(path + " is closed");
        return f;
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    @Override
    public synchronized void close() throws IOException {
        int f = fd;
        if (f < 0) return;
        fd = -1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) CLOSE.invokeExact(state, f);
            if (r < 0) throw new ErrnoException("close(" + path + ")", errno(state));
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }
}
