package io.bmcast.cli;

import io.bmcast.imagestore.TransferProgress;
import java.io.PrintWriter;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Progress of a long transfer on stderr: one line rewritten in place every second on a terminal, a new line every
 * five seconds otherwise (a log or a CI job gets a readable record, not a stream of carriage returns).
 */
final class ProgressLine implements AutoCloseable {
    private final PrintWriter err;
    private final TransferProgress progress;
    private final boolean tty;
    private final long start = System.nanoTime();
    private final Thread ticker;
    private boolean closed; // guarded by this

    ProgressLine(PrintWriter err, TransferProgress progress) {
        this.err = err;
        this.progress = progress;
        this.tty = stderrIsTerminal();
        long everyMs = tty ? 1000 : 5000;
        this.ticker = Thread.ofPlatform().daemon().name("progress").start(() -> {
            try {
                while (true) {
                    Thread.sleep(everyMs);
                    print();
                }
            } catch (InterruptedException done) {
                // closed
            }
        });
    }

    private synchronized void print() {
        if (closed || progress.total() == 0) return; // nothing to show before the work is known (and a failure then is one line)
        String line = progress.line(System.nanoTime() - start);
        if (tty) err.print("\r" + Fleet.bar(progress.total() == 0 ? 0 : (double) progress.done() / progress.total(), 20) + " " + line + "\033[K");
        else err.println(line);
        err.flush();
    }

    /** Stops the updates; on a terminal clears the line so the summary starts on a clean one. */
    @Override
    public synchronized void close() {
        closed = true;
        ticker.interrupt();
        if (tty) {
            err.print("\r\033[K");
            err.flush();
        }
    }

    /** isatty(2) through the FFM API: the JDK only tells whether stdin and stdout are a terminal. */
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle isatty = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(2) == 1;
        } catch (Throwable e) {
            return false;
        }
    }
}
