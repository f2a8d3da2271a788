package io.bmcast.mediator;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Lowers the calling thread's CPU priority (its nice value) on Linux, through {@code setpriority(PRIO_PROCESS, tid,
 * nice)}: on Linux a thread id names that one thread, so the rest of the process keeps its priority.
 *
 * <p>The idea: on a machine whose cores the guest's vCPU needs (two here: a TCG vCPU, the mediator, the image server),
 * the background copy's threads (writes into the page cache: ~2.1 CPU-seconds per GiB measured here, a quarter of a
 * core at 1 Gbit/s) take CPU time from a booting guest whenever the scheduler weighs them equally. At nice 10 a
 * runnable vCPU thread gets ~10x their share while both compete, and when the cores are free the copy runs as fast as
 * before. The on-demand path (the NBD server's threads and the image client's) keeps its normal priority. It is off by
 * default: see {@link #BACKGROUND_NICE}.
 *
 * <p>Raising a nice value needs no privilege. Where it fails (no Linux, no native access), nothing changes but the
 * priority: the answer says so, and the copy runs as before.
 */
public final class ThreadPriority {
    /**
     * The nice value the background copy runs at: 0 (off) unless {@code BMCAST_HYDRATOR_NICE} says otherwise.
     *
     * <p>Why off: measured here ({@code bench startup --modes local,bmcast --app-data 1G}, busybox, 1 Gbit/s, three
     * interleaved pairs of the same jar on two cores at a load of ~24), nice 10 made the guest ready later in every
     * pair (median 14.7 s against 12.4 s) and the disk local later (26.2 s against 20.3 s). Without a boot profile
     * the ascending copy claims the very regions a boot reads first, and the booting guest then waits for a niced
     * worker: the priority inversion costs more than the CPU it leaves the vCPU. The mechanism stays for hosts where
     * the measurement comes out the other way (a vCPU pinned beside the mediator, KVM).
     */
    public static final int BACKGROUND_NICE = niceFromEnvironment(0);

    private static final int PRIO_PROCESS = 0;
    private static final MethodHandle GETTID;
    private static final MethodHandle SETPRIORITY;

    static {
        MethodHandle gettid = null, setpriority = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            MemorySegment g = libc.find("gettid").orElse(null);
            MemorySegment s = libc.find("setpriority").orElse(null);
            if (g != null && s != null) {
                gettid = linker.downcallHandle(g, FunctionDescriptor.of(ValueLayout.JAVA_INT));
                setpriority = linker.downcallHandle(s, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            }
        } catch (RuntimeException | LinkageError e) {
            // no native access: priorities stay as they are
        }
        GETTID = gettid;
        SETPRIORITY = setpriority;
    }

    private ThreadPriority() {}

    private static int niceFromEnvironment(int otherwise) {
        String v = System.getenv("BMCAST_HYDRATOR_NICE");
        try {
            return v == null ? otherwise : Math.max(0, Math.min(19, Integer.parseInt(v.strip())));
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }

    /** Sets the calling thread's nice value; true when it took effect. */
    public static boolean niceCurrentThread(int nice) {
        if (GETTID == null) return false;
        try {
            int tid = (int) GETTID.invokeExact();
            return (int) SETPRIORITY.invokeExact(PRIO_PROCESS, tid, nice) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The calling thread's kernel thread id, or -1 where it cannot be had. Visible for testing. */
    static int currentTid() {
        if (GETTID == null) return -1;
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            return -1;
        }
    }
}
