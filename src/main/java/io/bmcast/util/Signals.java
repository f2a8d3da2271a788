package io.bmcast.util;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT as a request to stop: the command finishes its shutdown on its own thread and exits
 * with its own status (0 for a clean stop), instead of the JVM's 143/130 from a shutdown hook.
 */
public final class Signals {
    private Signals() {}

    public static void onTerminate(Runnable action) {
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), s -> action.run());
        }
    }
}
