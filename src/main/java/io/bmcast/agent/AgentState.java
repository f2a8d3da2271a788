package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * What the agent must not forget across its own death: {@code WORK/agent-state.json}. Written (temp file, fsync,
 * rename) before every step it records is taken, so an agent killed with -9 at any point restarts knowing
 * which instance it holds, which process runs it, and whether its disk was proved clean.
 *
 * @param instance the instance this machine holds, or null
 * @param diskClean the disk was scrubbed and verified since its last tenant (a brand-new sparse disk is clean)
 * @param history instances this agent held before (newest last, bounded): an assignment for one of them that it
 *                no longer holds is reported lost, never started again
 */
record AgentState(Held instance, boolean diskClean, List<String> history) {
    static final String FILE = "agent-state.json";
    static final int HISTORY = 64;

    /**
     * @param pid the {@code instance run} process, 0 when none was started
     * @param startedAtMillis its start time, to tell it from a later process with the same pid
     * @param phase the last phase the agent decided itself (scrubbing, deleted, failed), or null while the
     *              instance's own files tell it
     * @param destroying a destroy was started: a restarted agent finishes it
     */
    record Held(String id, ImageSpec image, long pid, long startedAtMillis, String phase, String reason, boolean destroying) {}

    AgentState {
        history = List.copyOf(history);
    }

    static AgentState empty(boolean diskClean) {
        return new AgentState(null, diskClean, List.of());
    }

    AgentState withInstance(Held h) {
        List<String> hist = history;
        if (h != null && !hist.contains(h.id())) {
            List<String> l = new ArrayList<>(hist);
            l.add(h.id());
            hist = l.subList(Math.max(0, l.size() - HISTORY), l.size());
        }
        return new AgentState(h, diskClean, hist);
    }

    AgentState withDiskClean(boolean clean) {
        return new AgentState(instance, clean, history);
    }

    static AgentState load(Path work) throws IOException {
        Path f = work.resolve(FILE);
        if (!Files.exists(f)) return null;
        try {
            return Jackson.MAPPER.readValue(f.toFile(), AgentState.class);
        } catch (IOException e) {
            throw new IOException(f + " is unreadable (" + e.getMessage() + "); move it away only once you know no instance runs", e);
        }
    }

    void save(Path work) throws IOException {
        Path tmp = work.resolve(FILE + ".tmp");
        Files.write(tmp, Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(this));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, work.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
