package io.bmcast.instance;

import io.bmcast.util.Jackson;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The timeline of one instance: JSON lines {@code {"t": seconds_since_start, "event": NAME, ...}} appended
 * to a file (when asked) and echoed to the operator's terminal as one readable line each.
 */
public final class EventLog implements AutoCloseable {
    private final long startNs;
    private final OutputStream file;
    private final PrintStream terminal;
    private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

    public EventLog(long startNs, Path file, PrintStream terminal) throws IOException {
        this.startNs = startNs;
        this.file = file == null ? null : Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        this.terminal = terminal;
    }

    /**
     * Calls {@code listener} with each event's name once it is recorded, in the thread that emitted it: a test
     * acts at an exact step of the instance (kills the mediator the moment it listens, say). Keep it short.
     */
    public void addListener(Consumer<String> listener) {
        listeners.add(listener);
    }

    public double secondsSinceStart() {
        return (System.nanoTime() - startNs) / 1e9;
    }

    /** Records {@code event} with optional {@code key, value} pairs. */
    public synchronized void emit(String event, Object... keysAndValues) {
        double t = Math.round(secondsSinceStart() * 1000) / 1000.0;
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("t", t);
        line.put("event", event);
        StringBuilder human = new StringBuilder(String.format(Locale.ROOT, "[%8.3f s] %s", t, event));
        for (int i = 0; i + 1 < keysAndValues.length; i += 2) {
            line.put(String.valueOf(keysAndValues[i]), keysAndValues[i + 1]);
            human.append(' ').append(keysAndValues[i]).append('=').append(keysAndValues[i + 1]);
        }
        if (file != null) {
            try {
                file.write((Jackson.MAPPER.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
                file.flush();
            } catch (IOException e) {
                if (terminal != null) terminal.println("instance: cannot write event: " + e.getMessage());
            }
        }
        if (terminal != null) terminal.println(human);
        for (Consumer<String> l : listeners) l.accept(event);
    }

    @Override
    public synchronized void close() throws IOException {
        if (file != null) file.close();
    }
}
