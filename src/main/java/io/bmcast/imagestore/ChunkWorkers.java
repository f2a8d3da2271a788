package io.bmcast.imagestore;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code jobs} virtual threads that take chunk indices in order until none is left; the first failure stops them
 * all (each finishes the chunk in hand) and is rethrown. Bounded: at most {@code jobs} chunks are in memory or in
 * flight at once, whatever the image's size.
 */
final class ChunkWorkers {
    interface Task {
        void run(int index) throws IOException;
    }

    private ChunkWorkers() {}

    static void run(String name, int jobs, int count, Task task) throws IOException {
        AtomicInteger next = new AtomicInteger();
        IOException[] failure = new IOException[1];
        List<Thread> workers = new ArrayList<>();
        for (int j = 0; j < jobs; j++) {
            workers.add(Thread.ofVirtual().name(name + "-" + j).start(() -> {
                int i;
                while ((i = next.getAndIncrement()) < count) {
                    synchronized (failure) {
                        if (failure[0] != null) return;
                    }
                    try {
                        task.run(i);
                    } catch (IOException | RuntimeException e) {
                        synchronized (failure) {
                            if (failure[0] == null) failure[0] = e instanceof IOException io ? io : new IOException("chunk " + i + ": " + e, e);
                        }
                        return;
                    }
                }
            }));
        }
        try {
            for (Thread t : workers) t.join();
        } catch (InterruptedException e) {
            for (Thread t : workers) t.interrupt();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        synchronized (failure) {
            if (failure[0] != null) throw failure[0];
        }
    }
}
