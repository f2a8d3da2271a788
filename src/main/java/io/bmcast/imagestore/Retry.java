package io.bmcast.imagestore;

/** A store call made again after a short pause when its failure may pass (throttled, a 5xx, a dropped connection). */
final class Retry {
    static final int ATTEMPTS = 3;

    interface Call<T> {
        T call() throws StoreException;
    }

    private Retry() {}

    static <T> T store(Call<T> c) throws StoreException {
        for (int attempt = 1; ; attempt++) {
            try {
                return c.call();
            } catch (StoreException e) {
                if (e.permanent() || attempt >= ATTEMPTS) throw e;
                try {
                    Thread.sleep(500L << attempt); // 1 s, 2 s
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }
}
