package io.bmcast.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Finds the real peers tests talk to (qemu-img, nbdinfo, nbdsh, fio...) and runs them with a timeout.
 * Subprocesses get a PATH with /usr/bin first so Debian's python (the one with libnbd) runs nbdsh.
 */
public final class Tools {
    private Tools() {}

    /** What a finished subprocess left. */
    public record Result(int exitCode, String stdout, String stderr) {
        public Result requireSuccess(String what) {
            if (exitCode != 0) {
                throw new AssertionError(what + " exited with " + exitCode + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr);
            }
            return this;
        }
    }

    /** The tool's path, or null when it is not installed. */
    public static Path find(String tool) {
        for (String dir : path().split(":")) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, tool);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** Skips the calling test when {@code tool} is not installed. */
    public static void assume(String... tools) {
        for (String t : tools) assumeTrue(find(t) != null, t + " is not installed");
    }

    private static String path() {
        String p = System.getenv().getOrDefault("PATH", "");
        return "/usr/bin:/bin:/usr/sbin:/sbin" + (p.isEmpty() ? "" : ":" + p);
    }

    public static Result run(Duration timeout, String... command) {
        return run(timeout, List.of(command));
    }

    public static Result run(Duration timeout, List<String> command) {
        return run(timeout, Map.of(), command);
    }

    /** {@link #run} with more environment (a store's credentials: {@code LocalS3.env()}). */
    public static Result run(Duration timeout, Map<String, String> extraEnv, List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.putAll(extraEnv);
        env.put("PATH", path());
        env.remove("PYTHONHOME");
        env.remove("PYTHONPATH");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        try {
            p.getOutputStream().close();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                throw new AssertionError(command + " did not finish within " + timeout + "\nstdout:\n"
                        + out.getNow("") + "\nstderr:\n" + err.getNow(""));
            }
            return new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
        } catch (AssertionError e) {
            throw e;
        } catch (Exception e) {
            p.destroyForcibly();
            throw new AssertionError("running " + command + ": " + e, e);
        }
    }

    /** Runs a python snippet in nbdsh (handle {@code h}, module {@code nbd}), connected to {@code uri}. */
    public static Result nbdsh(Duration timeout, String uri, String script) {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/nbdsh"));
        if (uri != null) {
            cmd.add("-u");
            cmd.add(uri);
        }
        cmd.add("-c");
        cmd.add(script);
        return run(timeout, cmd);
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "<" + e + ">";
        }
    }
}
