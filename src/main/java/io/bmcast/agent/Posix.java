package io.bmcast.agent;

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
 * The few system calls the agent needs that Java does not offer: {@code kill} of a whole process group (the
 * instance's session: the JVM of {@code instance run}, its mediator and QEMU) and the block device ioctls that
 * discard, zero or erase a disk ({@code BLKDISCARD}, {@code BLKZEROOUT}, {@code BLKSECDISCARD}, {@code BLKGETSIZE64}).
 */
final class Posix {
    static final int SIGKILL = 9;
    static final int SIGTERM = 15;
    static final int ESRCH = 3;
    static final int EPERM = 1;
    static final int EBUSY = 16;
    static final int EOPNOTSUPP = 95;

    // <linux/fs.h>: _IO(0x12, 119), _IO(0x12, 127), _IO(0x12, 125), _IOR(0x12, 114, size_t)
    static final long BLKDISCARD = 0x1277;
    static final long BLKZEROOUT = 0x127f;
    static final long BLKSECDISCARD = 0x127d;
    static final long BLKGETSIZE64 = 0x80081272L;

    private static final int O_RDWR = 2;
    private static final int O_EXCL = 0x80;
    private static final int O_CLOEXEC = 0x80000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle KILL = downcall("kill",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle IOCTL = downcall("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2));

    private Posix() {}

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] opts = new Linker.Option[extra.length + 1];
        opts[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, opts, 1, extra.length);
        MemorySegment sym = LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(sym, fd, opts);
    }

    /** A failed system call and its errno. */
    static final class ErrnoException extends IOException {
        final int errno;

        ErrnoException(String call, int errno) {
            super(call + " failed: errno " + errno);
            this.errno = errno;
        }
    }

    /**
     * {@code kill(-pgid, sig)}: the signal to every process of the group. Returns false when the group has no
     * process left (ESRCH), so {@code killGroup(pgid, 0)} asks whether anything of it still runs.
     */
    static boolean killGroup(long pgid, int sig) throws IOException {
        if (pgid <= 1) throw new IllegalArgumentException("refusing to signal process group " + pgid);
        return kill(-pgid, sig, "kill(-" + pgid + ", " + sig + ")");
    }

    /** {@code kill(pid, sig)}; false when no such process. */
    static boolean killProcess(long pid, int sig) throws IOException {
        if (pid <= 1) throw new IllegalArgumentException("refusing to signal pid " + pid);
        return kill(pid, sig, "kill(" + pid + ", " + sig + ")");
    }

    private static boolean kill(long target, int sig, String call) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int r = (int) KILL.invokeExact(state, (int) target, sig);
            if (r == 0) return true;
            int errno = (int) ERRNO.get(state, 0L);
            if (errno == ESRCH) return false;
            throw new ErrnoException(call, errno);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    /** A block device opened read-write for its ioctls. */
    static final class BlockDevice implements AutoCloseable {
        private final Path path;
        private int fd;

        BlockDevice(Path path) throws IOException {
            this(path, false);
        }

        /**
         * @param exclusive {@code O_EXCL}: the open fails with EBUSY while the kernel holds the device (mounted, a
         *                  device-mapper or md member, another exclusive opener), and no one can mount it meanwhile
         */
        BlockDevice(Path path, boolean exclusive) throws IOException {
            this.path = path;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CAPTURE);
                int r = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), O_RDWR | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0);
                if (r < 0) throw new ErrnoException("open(" + path + ")", (int) ERRNO.get(state, 0L));
                fd = r;
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IOException(t);
            }
        }

        long size() throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
                ioctl(BLKGETSIZE64, out, "BLKGETSIZE64");
                return out.get(ValueLayout.JAVA_LONG, 0);
            }
        }

        /** Tells the device the range holds nothing any more (fast; whether it then reads zeros is the device's business). */
        void discard(long offset, long length) throws IOException {
            range(BLKDISCARD, "BLKDISCARD", offset, length);
        }

        /** Makes the range read as zeros (the device's write-zeroes or unmap when it has one, written zeros when not). */
        void zeroOut(long offset, long length) throws IOException {
            range(BLKZEROOUT, "BLKZEROOUT", offset, length);
        }

        /**
         * The device's own secure erase of the range ({@code BLKSECDISCARD}: eMMC/SD secure trim, or whatever the
         * driver maps REQ_OP_SECURE_ERASE to); EOPNOTSUPP on devices that have none.
         */
        void secureErase(long offset, long length) throws IOException {
            range(BLKSECDISCARD, "BLKSECDISCARD", offset, length);
        }

        private void range(long request, String name, long offset, long length) throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment r = arena.allocate(ValueLayout.JAVA_LONG, 2);
                r.setAtIndex(ValueLayout.JAVA_LONG, 0, offset);
                r.setAtIndex(ValueLayout.JAVA_LONG, 1, length);
                ioctl(request, r, name);
            }
        }

        private void ioctl(long request, MemorySegment arg, String name) throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CAPTURE);
                int r = (int) IOCTL.invokeExact(state, fd, request, arg);
                if (r < 0) throw new ErrnoException("ioctl(" + path + ", " + name + ")", (int) ERRNO.get(state, 0L));
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IOException(t);
            }
        }

        @Override
        public void close() throws IOException {
            if (fd < 0) return;
            int f = fd;
            fd = -1;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CAPTURE);
                int r = (int) CLOSE.invokeExact(state, f);
                if (r < 0) throw new ErrnoException("close(" + path + ")", (int) ERRNO.get(state, 0L));
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IOException(t);
            }
        }
    }
}
