package io.bmcast.node;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * When a deployment first started, kept in its state dir ({@value #FILE}, one ISO-8601 instant) so that a deadline
 * such as {@code --hydrate-by 10m} is measured from the deployment's first start and survives any number of
 * mediator restarts: a restarted mediator must not grant itself another ten minutes. Wall-clock time, since
 * {@code System.nanoTime} means nothing to another process.
 */
public final class DeploymentClock {
    public static final String FILE = "first-start";

    private DeploymentClock() {}

    /** The recorded first start, or {@code now} recorded as it when there is none (or it cannot be read). */
    public static Instant firstStart(Path state, Instant now) throws IOException {
        Path f = state.resolve(FILE);
        try {
            return Instant.parse(Files.readString(f, StandardCharsets.UTF_8).strip());
        } catch (NoSuchFileException e) {
            // first start: record it below
        } catch (DateTimeParseException e) {
            // a torn or foreign file: start the clock again rather than refuse to serve
        }
        Path tmp = state.resolve(FILE + ".tmp");
        Files.writeString(tmp, now + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return now;
    }

    /** The deadline {@code by} after the first start, as a {@code System.nanoTime} instant of this process. */
    public static long deadlineNanoTime(Instant firstStart, Duration by, Instant now, long nowNanoTime) {
        Duration left = Duration.between(now, firstStart.plus(by));
        return nowNanoTime + left.toNanos();
    }
}
