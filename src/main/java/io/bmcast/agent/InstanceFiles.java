package io.bmcast.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where one instance's files live under the agent's WORK dir. One fixed directory, since a machine runs one
 * instance at a time, and a short one: QEMU's and the mediator's Unix sockets live under {@code state/run},
 * and a socket path must stay under ~100 bytes (a longer one would send them to a temp dir outside WORK,
 * where the scrub would not find them).
 *
 * <pre>
 *  WORK/instance/state/        the mediator's state (status.json, map) and run/ (sockets, QEMU's log)
 *  WORK/instance/events.jsonl  the instance's timeline, as {@code instance run --events} writes it
 *  WORK/instance/console.log   the guest's serial console
 *  WORK/instance/instance.log  everything {@code instance run} printed
 * </pre>
 */
record InstanceFiles(Path dir) {
    static InstanceFiles under(Path work) {
        return new InstanceFiles(work.toAbsolutePath().resolve("instance"));
    }

    Path state() {
        return dir.resolve("state");
    }

    Path events() {
        return dir.resolve("events.jsonl");
    }

    Path console() {
        return dir.resolve("console.log");
    }

    Path log() {
        return dir.resolve("instance.log");
    }

    /** Whether the mediator's sockets will fit under {@code state/run} (see {@code Instance.shortDir}). */
    boolean socketsFit() {
        return state().resolve("run").toString().length() <= 70;
    }

    /** Removes every file of the instance: its state, timeline, console and log. */
    void delete() throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** The last lines of the instance's log: why it failed, in its own words. */
    String tail(int lines) {
        try {
            var all = Files.readAllLines(log());
            var last = all.subList(Math.max(0, all.size() - lines), all.size());
            return String.join("\n", last).strip();
        } catch (IOException e) {
            return "(no log)";
        }
    }
}
