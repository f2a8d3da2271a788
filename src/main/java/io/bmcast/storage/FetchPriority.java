package io.bmcast.storage;

import java.util.concurrent.Callable;

/**
 * Whether the chunk fetches on this thread are for a background copy or for a guest waiting on a read. The
 * mediator's hydrator marks its background batches; everything else (a guest's read, a boot-profile prefetch, a
 * peer asking for a guest's read) is urgent. Fetchers and peer servers let urgent requests pass background ones
 * (store slots, peer upload slots), and the mark travels to peers with the request, so a fleet in which early
 * nodes already copy in the background still answers the late nodes' boot reads first.
 */
public final class FetchPriority {
    private static final ThreadLocal<Boolean> BACKGROUND = ThreadLocal.withInitial(() -> Boolean.FALSE);

    private FetchPriority() {}

    /** True inside {@link #background}. */
    public static boolean isBackground() {
        return BACKGROUND.get();
    }

    /** Runs {@code work} with this thread's fetches marked background (or urgent), then restores the mark. */
    public static <T> T run(boolean background, Callable<T> work) throws Exception {
        Boolean before = BACKGROUND.get();
        BACKGROUND.set(background);
        try {
            return work.call();
        } finally {
            BACKGROUND.set(before);
        }
    }
}
