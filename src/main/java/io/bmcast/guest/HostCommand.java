package io.bmcast.guest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one host tool (mke2fs, debootstrap, qemu-img...) to completion with a deadline, and turns a failure into
 * an exception that quotes the command and the tail of its output: these tools explain themselves well, so the
 * best error message is theirs.
 */
public final class HostCommand {
    private HostCommand() {}

    /** Output of a command that exited 0 (or with one of the accepted codes). */
    public record Result(int exitCode, String output) {}

    /** Runs {@code argv}, output (stdout and stderr merged) captured; throws unless the exit code is 0. */
    public static Result run(Duration timeout, List<String> argv) throws IOException {
        return run(timeout, null, argv, 0);
    }

    /** Runs {@code argv} in {@code dir} (null for the current one); any of {@code okCodes} counts as success. */
    public static Result run(Duration timeout, Path dir, List<String> argv, int... okCodes) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        if (dir != null) pb.directory(dir.toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot run " + argv.get(0) + " (is it installed?): " + e.getMessage(), e);
        }
        p.getOutputStream().close();
        // Read on a virtual thread so a chatty tool never blocks on a full pipe while we wait for it.
        var out = new java.io.ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (var in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // the process died; its exit code tells the story
            }
        });
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + ": still running after " + timeout.toSeconds() + " s, killed");
            }
            reader.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + argv.get(0), e);
        }
        String text;
        synchronized (out) {
            text = out.toString(StandardCharsets.UTF_8);
        }
        int rc = p.exitValue();
        boolean ok = okCodes.length == 0 ? rc == 0 : java.util.Arrays.stream(okCodes).anyMatch(c -> c == rc);
        if (!ok) {
            throw new IOException(String.join(" ", argv) + " failed with exit code " + rc + ":\n" + tail(text, 2000));
        }
        return new Result(rc, text);
    }

    private static String tail(String s, int max) {
        return s.length() <= max ? s : "..." + s.substring(s.length() - max);
    }
}
