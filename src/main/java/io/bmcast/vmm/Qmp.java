package io.bmcast.vmm;

import io.bmcast.util.Jackson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A QMP (QEMU Machine Protocol) client over a Unix socket.
 *
 * <p>QMP is newline-delimited JSON: a greeting, then {@code qmp_capabilities}, then commands answered by
 * {@code {"return":..}} or {@code {"error":{"class":..,"desc":..}}}, interleaved with asynchronous
 * {@code {"event":..}} messages. Every command carries an {@code id} that QEMU echoes, so replies are matched
 * to callers even if several threads issue commands. One virtual thread reads; it completes pending commands and
 * hands events to listeners (on the reader thread: listeners must not block) and to a backlog that
 * {@link #awaitEvent} searches, so an event that arrives before someone waits for it is not lost.
 */
public final class Qmp implements AutoCloseable {
    /** An asynchronous QMP event, e.g. {@code SHUTDOWN}, {@code BLOCK_JOB_COMPLETED}. */
    public record Event(String name, Map<String, Object> data, long timestampMicros) {}

    private final SocketChannel channel;
    private final Map<String, Object> greeting;
    private final AtomicLong ids = new AtomicLong();
    private final Map<Long, CompletableFuture<Object>> pending = new ConcurrentHashMap<>();
    private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();
    // Guards events; notified on every new event and on close.
    private final Object eventLock = new Object();
    private final List<Event> events = new ArrayList<>();
    private volatile IOException closedBy;
    private final Thread reader;

    private Qmp(SocketChannel channel, BufferedReader in) throws IOException {
        this.channel = channel;
        String first = in.readLine();
        if (first == null) throw new IOException("QMP socket closed before the greeting");
        Map<String, Object> g = parseObject(first);
        if (!g.containsKey("QMP")) throw new IOException("not a QMP greeting: " + first);
        this.greeting = g;
        this.reader = Thread.ofVirtual().name("qmp-reader").start(() -> readLoop(in));
    }

    /** Connects, reads the greeting and negotiates capabilities; retries until QEMU has created the socket. */
    public static Qmp connect(Path socket, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            SocketChannel ch = null;
            try {
                ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                        StandardCharsets.UTF_8));
                Qmp q = new Qmp(ch, in);
                q.execute("qmp_capabilities", Map.of());
                return q;
            } catch (IOException e) {
                if (ch != null) ch.close();
                if (System.nanoTime() > deadline) {
                    throw new IOException("cannot connect to QMP at " + socket + " within " + timeout.toSeconds()
                            + " s: " + e.getMessage(), e);
                }
                sleep(50);
            }
        }
    }

    /** QEMU's version as {@code major.minor.micro}, from the greeting. */
    @SuppressWarnings("unchecked")
    public String qemuVersion() {
        Map<String, Object> v = (Map<String, Object>) ((Map<String, Object>) ((Map<String, Object>) greeting.get("QMP"))
                .get("version")).get("qemu");
        return v.get("major") + "." + v.get("minor") + "." + v.get("micro");
    }

    /** Runs a command, waiting up to 60 s; returns QEMU's {@code return} value (often an empty map). */
    public Object execute(String command, Map<String, ?> arguments) throws IOException {
        return execute(command, arguments, Duration.ofSeconds(60));
    }

    public Object execute(String command, Map<String, ?> arguments, Duration timeout) throws IOException {
        long id = ids.incrementAndGet();
        CompletableFuture<Object> reply = new CompletableFuture<>();
        pending.put(id, reply);
        Map<String, Object> msg = new LinkedHashMap<>();
        msg.put("execute", command);
        msg.put("id", id);
        if (arguments != null && !arguments.isEmpty()) msg.put("arguments", arguments);
        try {
            if (closedBy != null) throw new IOException("QMP connection closed", closedBy);
            byte[] line = (Jackson.MAPPER.writeValueAsString(msg) + "\n").getBytes(StandardCharsets.UTF_8);
            synchronized (channel) {
                ByteBuffer b = ByteBuffer.wrap(line);
                while (b.hasRemaining()) channel.write(b);
            }
            Object r = reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (r instanceof QmpError e) throw new QmpException(command, e.errorClass, e.desc);
            return r;
        } catch (TimeoutException e) {
            throw new IOException("QMP " + command + ": no reply within " + timeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            throw new IOException("QMP " + command + ": connection lost: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for QMP " + command, e);
        } finally {
            pending.remove(id);
        }
    }

    /** Called on the reader thread for every event, in order. */
    public void addListener(Consumer<Event> listener) { listeners.add(listener); }

    public void removeListener(Consumer<Event> listener) { listeners.remove(listener); }

    /**
     * Waits for an event named {@code name} matching {@code filter}, including ones that arrived earlier and were
     * not yet consumed; the matching event is consumed.
     */
    public Event awaitEvent(String name, Predicate<Event> filter, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (eventLock) {
            while (true) {
                for (int i = 0; i < events.size(); i++) {
                    Event e = events.get(i);
                    if (e.name().equals(name) && filter.test(e)) return events.remove(i);
                }
                if (closedBy != null) throw new IOException("QMP closed while waiting for " + name, closedBy);
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new IOException("no QMP event " + name + " within " + timeout.toSeconds() + " s");
                try {
                    TimeUnit.NANOSECONDS.timedWait(eventLock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted waiting for " + name, e);
                }
            }
        }
    }

    public Event awaitEvent(String name, Duration timeout) throws IOException {
        return awaitEvent(name, e -> true, timeout);
    }

    /** True once the connection is gone (QEMU exited or {@link #close()} was called). */
    public boolean isClosed() { return closedBy != null; }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            reader.join(Duration.ofSeconds(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private record QmpError(String errorClass, String desc) {}

    @SuppressWarnings("unchecked")
    private void readLoop(BufferedReader in) {
        IOException end = new IOException("QMP connection closed by QEMU");
        try {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isBlank()) continue;
                Map<String, Object> m = parseObject(line);
                if (m.get("event") instanceof String name) {
                    Map<String, Object> data = m.get("data") instanceof Map<?, ?> d ? (Map<String, Object>) d : Map.of();
                    long ts = 0;
                    if (m.get("timestamp") instanceof Map<?, ?> t) {
                        ts = ((Number) t.get("seconds")).longValue() * 1_000_000 + ((Number) t.get("microseconds")).longValue();
                    }
                    Event e = new Event(name, data, ts);
                    synchronized (eventLock) {
                        events.add(e);
                        if (events.size() > 10_000) events.removeFirst();
                        eventLock.notifyAll();
                    }
                    for (Consumer<Event> l : listeners) l.accept(e);
                    continue;
                }
                CompletableFuture<Object> f = m.get("id") instanceof Number n ? pending.get(n.longValue()) : null;
                if (f == null) continue; // a reply nobody waits for any more (timed out)
                if (m.get("error") instanceof Map<?, ?> err) {
                    f.complete(new QmpError(String.valueOf(err.get("class")), String.valueOf(err.get("desc"))));
                } else {
                    f.complete(m.get("return"));
                }
            }
        } catch (IOException | RuntimeException e) {
            end = new IOException("QMP connection failed: " + e.getMessage(), e);
        } finally {
            closedBy = end;
            for (CompletableFuture<Object> f : pending.values()) f.completeExceptionally(end);
            synchronized (eventLock) {
                eventLock.notifyAll();
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parseObject(String line) throws IOException {
        if (Jackson.MAPPER.readValue(line, Object.class) instanceof Map<?, ?> m) return (Map<String, Object>) m;
        throw new IOException("QMP sent something other than a JSON object: " + line);
    }

    private static void sleep(long ms) throws IOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
