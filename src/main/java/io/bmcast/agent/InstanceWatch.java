package io.bmcast.agent;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.fleet.ByteSources;
import io.bmcast.fleet.InstanceState;
import io.bmcast.node.NodeState;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;

/**
 * What a running instance is doing, read from the files {@code instance run} writes: its timeline
 * ({@code events.jsonl}) for the phase and the mediator's {@code status.json} for the progress. Files rather than
 * a pipe, so a restarted agent reads exactly what the first one would have.
 *
 * <pre>
 *  (spawned) starting ── vmm-started ── streaming ── devirtualized ── devirtualized
 *  vmm-exited code 0 ── stopped (the guest powered off by itself)
 *  process gone without a clean vmm-exited ── failed (the reason: the last lines of its log)
 * </pre>
 */
final class InstanceWatch {
    /** One look at the instance. */
    /** @param sources where the mediator's bytes came from (an image in the store), or null when its status says nothing of it */
    record Observation(InstanceState phase, String reason, long bytesOnDemand, long bytesBackground, double fractionLocal,
            ByteSources sources, boolean guestReady) {}

    private final InstanceFiles files;
    private final InstanceProcess process;
    // Guarded by the owning Agent's lock.
    private Observation last;
    private long eventsRead;
    private final StringBuilder partial = new StringBuilder();
    private boolean vmmStarted;
    private boolean devirtualized;
    private Integer vmmExitCode;
    private long onDemand;
    private long background;
    private double fraction;
    private ByteSources sources;
    private boolean guestReady;

    /** @param process the instance's process, or null when it is known to be gone */
    InstanceWatch(InstanceFiles files, InstanceProcess process) {
        this.files = files;
        this.process = process;
    }

    InstanceProcess process() {
        return process;
    }

    Observation poll() {
        // Liveness first: a process that ends between the two reads has written its last event before ending.
        boolean alive = process != null && process.isAlive();
        readEvents();
        readStatus();
        InstanceState phase;
        String reason = null;
        if (vmmExitCode != null) {
            phase = vmmExitCode == 0 ? InstanceState.STOPPED : InstanceState.FAILED;
            if (vmmExitCode != 0) reason = "QEMU exited with code " + vmmExitCode + ": " + files.tail(5);
        } else if (!alive) {
            phase = InstanceState.FAILED;
            String code = process == null ? "" : process.exitCode().map(c -> " (exit code " + c + ")").orElse("");
            reason = "the instance process ended before its guest" + code + ": " + files.tail(5);
        } else if (devirtualized) {
            phase = InstanceState.DEVIRTUALIZED;
        } else if (vmmStarted) {
            phase = InstanceState.STREAMING;
        } else {
            phase = InstanceState.STARTING;
        }
        return last = new Observation(phase, reason, onDemand, background, fraction, sources, guestReady);
    }

    /** The last observation, or a fresh one if there is none yet. */
    Observation lastOrPoll() {
        return last != null ? last : poll();
    }

    private void readEvents() {
        try (FileChannel ch = FileChannel.open(files.events(), StandardOpenOption.READ)) {
            long size = ch.size();
            if (size <= eventsRead) return;
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(size - eventsRead, 1 << 20));
            int n = ch.read(buf, eventsRead);
            if (n <= 0) return;
            eventsRead += n;
            partial.append(new String(buf.array(), 0, n, StandardCharsets.UTF_8));
        } catch (NoSuchFileException notYet) {
            return;
        } catch (IOException e) {
            return; // read again at the next poll
        }
        int nl;
        while ((nl = partial.indexOf("\n")) >= 0) {
            String line = partial.substring(0, nl);
            partial.delete(0, nl + 1);
            event(line);
        }
    }

    private void event(String line) {
        JsonNode e;
        try {
            e = Jackson.MAPPER.readTree(line);
        } catch (IOException bad) {
            return;
        }
        switch (e.path("event").asText("")) {
            case "vmm-started" -> vmmStarted = true;
            case "devirtualized" -> devirtualized = true;
            case "guest-ready" -> guestReady = true;
            case "vmm-exited" -> vmmExitCode = e.path("code").asInt(-1);
            default -> {}
        }
    }

    private void readStatus() {
        try {
            JsonNode s = Jackson.MAPPER.readTree(files.state().resolve(NodeState.STATUS).toFile());
            onDemand = s.path("bytesOnDemand").asLong(onDemand);
            background = s.path("bytesBackground").asLong(background);
            fraction = s.path("fractionPresent").asDouble(fraction);
            if (s.has("chunksVerified")) {
                sources = new ByteSources(s.path("bytesFromCache").asLong(0), s.path("bytesFromPeers").asLong(0),
                        s.path("bytesFromStore").asLong(0), s.path("chunksVerified").asLong(0), s.path("chunksRejected").asLong(0));
            }
        } catch (IOException | IllegalArgumentException notYetOrTorn) {
            // the mediator replaces it atomically, but it may not exist yet: keep the last values
        }
    }
}
