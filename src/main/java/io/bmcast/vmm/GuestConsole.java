package io.bmcast.vmm;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The guest's serial console (QEMU chardev on a Unix socket): records everything the guest prints, waits for
 * markers, and runs shell commands in the guest.
 *
 * <p>Waiting is cursor-based: {@link #await} looks only at output after the previous match, so waiting twice for
 * the same marker waits for two occurrences. {@link #run} wraps the command as
 * {@code echo BMC""BEGIN-n; CMD; echo BMC""END-n:$?}: the tty echoes the typed line with the quotes, the shell
 * prints it without, so the markers found in the output can only be the shell's.
 */
public final class GuestConsole implements AutoCloseable {
    /** Output and exit status of one command run in the guest. */
    public record Result(int exitCode, String output) {
        public boolean ok() { return exitCode == 0; }
    }

    private static final AtomicInteger SEQ = new AtomicInteger();
    private final SocketChannel channel;
    private final OutputStream tee;
    // Guards text and cursor; notified whenever output arrives or the console closes.
    private final Object lock = new Object();
    private final StringBuilder text = new StringBuilder();
    private int cursor;
    private volatile boolean closed;
    private final Thread reader;

    private GuestConsole(SocketChannel channel, Path teeFile) throws IOException {
        this.channel = channel;
        this.tee = teeFile == null ? null : Files.newOutputStream(teeFile, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        this.reader = Thread.ofVirtual().name("guest-console").start(this::readLoop);
    }

    /** Connects to a console socket (retrying until it exists), optionally copying all output to {@code teeFile}. */
    public static GuestConsole connect(Path socket, Path teeFile, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return new GuestConsole(SocketChannel.open(UnixDomainSocketAddress.of(socket)), teeFile);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("cannot connect to guest console " + socket + ": " + e.getMessage(), e);
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", ie);
                }
            }
        }
    }

    /** Everything the guest printed so far (carriage returns removed). */
    public String output() {
        synchronized (lock) {
            return text.toString();
        }
    }

    /** Waits for {@code marker} in output after the cursor and moves the cursor past it. */
    public void await(String marker, Duration timeout) throws IOException {
        awaitPattern(Pattern.compile(Pattern.quote(marker)), timeout);
    }

    /** Waits for {@code pattern} in output after the cursor; moves the cursor past the match and returns it. */
    public Matcher awaitPattern(Pattern pattern, Duration timeout) throws IOException {
        synchronized (lock) {
            return awaitFrom(pattern, cursor, timeout);
        }
    }

    /** Waits for {@code pattern} in output from offset {@code from}; moves the cursor past the match if it is ahead. */
    private Matcher awaitFrom(Pattern pattern, int from, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (true) {
                Matcher m = pattern.matcher(text);
                if (m.find(from)) {
                    cursor = Math.max(cursor, m.end());
                    return m;
                }
                if (closed) throw new IOException("guest console closed while waiting for '" + pattern + "'" + tail());
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException("guest did not print '" + pattern + "' within " + timeout.toSeconds() + " s"
                            + tail());
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                }
            }
        }
    }

    /** Types {@code line} and Enter on the console. */
    public void send(String line) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        synchronized (channel) {
            while (b.hasRemaining()) channel.write(b);
        }
    }

    /**
     * Waits until the guest's shell answers a command: for a guest whose init prints no ready marker, or
     * when another waiter owns the marker (waiting is cursor-based).
     */
    public void awaitShell(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (run("true", Duration.ofSeconds(5)).ok()) return;
            } catch (IOException notYet) {
                if (System.nanoTime() > deadline || isClosed()) {
                    throw new IOException("the guest shell did not answer: " + notYet.getMessage(), notYet);
                }
                continue;
            }
            if (System.nanoTime() > deadline) throw new IOException("the guest shell did not answer within " + timeout.toSeconds() + " s");
        }
    }

    /**
     * Runs a shell command in the guest and returns its output (stdout and stderr) and exit status. The command
     * must be one line and must not read the console.
     */
    public Result run(String command, Duration timeout) throws IOException {
        return finish(start(command), timeout);
    }

    /**
     * A command started with {@link #start}, to be {@linkplain #finish finished} later; {@code outputOffset} is
     * where the console output stood when it was typed, so waiting for other text meanwhile loses nothing.
     */
    public record Pending(int seq, String command, int outputOffset) {}

    /** Starts a command without waiting, so the caller can act (e.g. kill a server) while it runs. */
    public Pending start(String command) throws IOException {
        if (command.contains("\n")) throw new IllegalArgumentException("one line only: " + command);
        int n = SEQ.incrementAndGet();
        int offset;
        synchronized (lock) {
            offset = text.length();
        }
        send("echo BMC\"\"BEGIN-" + n + "; " + command + " 2>&1; echo BMC\"\"END-" + n + ":$?");
        return new Pending(n, command, offset);
    }

    /** Waits for a started command to end; returns its output and exit status. */
    public Result finish(Pending p, Duration timeout) throws IOException {
        Matcher m;
        try {
            Matcher begin = awaitFrom(Pattern.compile("BMCBEGIN-" + p.seq() + "\n"), p.outputOffset(), timeout);
            m = awaitFrom(Pattern.compile("(?s)(.*?)BMCEND-" + p.seq() + ":(\\d+)\n"), begin.end(), timeout);
        } catch (IOException e) {
            throw new IOException("guest command '" + p.command() + "': " + e.getMessage(), e);
        }
        return new Result(Integer.parseInt(m.group(2)), m.group(1));
    }

    /** True once QEMU closed the console (it exited). */
    public boolean isClosed() { return closed; }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            reader.join(Duration.ofSeconds(2));
            if (tee != null) tee.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException ignored) {
            // the log is best effort
        }
    }

    private void readLoop() {
        try (InputStream in = Channels.newInputStream(channel)) {
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                if (tee != null) {
                    tee.write(buf, 0, n);
                    tee.flush();
                }
                // The console is a tty: lines end in \r\n; drop \r so patterns can use \n.
                String s = new String(buf, 0, n, StandardCharsets.UTF_8).replace("\r", "");
                synchronized (lock) {
                    text.append(s);
                    lock.notifyAll();
                }
            }
        } catch (IOException ignored) {
            // QEMU exited or we closed: either way the console is over
        } finally {
            closed = true;
            synchronized (lock) {
                lock.notifyAll();
            }
        }
    }

    private String tail() {
        int from = Math.max(0, text.length() - 600);
        return "; last output:\n" + text.substring(from);
    }
}
