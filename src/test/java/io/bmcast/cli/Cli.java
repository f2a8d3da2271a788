package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.cli.MainTest.Run;
import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The fleet commands of the {@code bmcast} CLI as a user runs them against one controller with one token
 * ({@code --controller URL --token-file FILE} after the command's own words), in this JVM through
 * {@link Main#run}.
 */
final class Cli {
    static final TypeReference<List<Api.Instance>> INSTANCES = new TypeReference<>() {};
    static final TypeReference<List<Api.Node>> NODES = new TypeReference<>() {};

    final String controller;
    final Path tokenFile;
    /** Options every command gets besides these two (e.g. {@code --ca-cert FILE}). */
    final List<String> common;

    Cli(String controller, Path tokenFile) {
        this(controller, tokenFile, List.of());
    }

    Cli(String controller, Path tokenFile, List<String> common) {
        this.controller = controller;
        this.tokenFile = tokenFile;
        this.common = common;
    }

    /** The same controller, another token (written to {@code file}). */
    Cli withToken(String token, Path file) {
        try {
            return new Cli(controller, Files.writeString(file, token + "\n"), common);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Run run(String... words) {
        List<String> args = new ArrayList<>(List.of(words));
        args.addAll(List.of("--controller", controller, "--token-file", tokenFile.toString()));
        args.addAll(common);
        return MainTest.bmcast(args.toArray(String[]::new));
    }

    /** Runs a command that must succeed; its standard output. */
    String ok(String... words) {
        Run r = run(words);
        assertEquals(0, r.rc(), "bmcast " + String.join(" ", words) + " failed:\n" + r.err() + r.out());
        return r.out();
    }

    <T> T json(TypeReference<T> type, String... words) {
        String out = ok(words);
        try {
            return Jackson.MAPPER.readValue(out, type);
        } catch (IOException e) {
            throw new AssertionError("bmcast " + String.join(" ", words) + " printed no JSON: " + out, e);
        }
    }

    List<Api.Node> nodes() {
        return json(NODES, "node", "ls", "--json");
    }

    List<Api.Instance> ps(String... more) {
        List<String> words = new ArrayList<>(List.of("ps", "--json"));
        words.addAll(List.of(more));
        return json(INSTANCES, words.toArray(String[]::new));
    }

    /** A failure must be one line {@code bmcast: ...} on stderr with exit code {@code rc}; returns that line. */
    String fails(int rc, String... words) {
        Run r = run(words);
        String what = "bmcast " + String.join(" ", words);
        assertEquals(rc, r.rc(), what + ":\n" + r.err() + r.out());
        MainTest.assertOneSentence(r.err());
        return r.err().strip();
    }

    /** Polls {@code what} until {@code done} holds; fails after {@code timeout} with the last value seen. */
    static <T> T await(Duration timeout, String description, Supplier<T> what, Predicate<T> done) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        T last = null;
        while (System.nanoTime() < deadline) {
            last = what.get();
            if (done.test(last)) return last;
            Thread.sleep(250);
        }
        fail("timed out after " + timeout.toSeconds() + " s waiting for " + description + "; last seen: " + last);
        return last;
    }
}
