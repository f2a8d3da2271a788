package io.bmcast.node;

import io.bmcast.mediator.MediatedDisk;
import io.bmcast.transport.NbdUri;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The files around a mediator's state dir that the VMM side and {@code node status} share: the
 * mediator's {@code status.json} (written by the mediator), {@code node.pid} (written by whoever started
 * it) and {@code devirtualized} (written by the VMM side once the guest's disk no longer goes through the
 * mediator).
 */
public final class NodeState {
    public static final String STATUS = "status.json";
    public static final String PID = "node.pid";
    /** The settings of the mediator {@code instance run} starts ({@link MediatorConfig}), written by whoever starts it. */
    public static final String CONFIG = "node.properties";
    /** An {@code s3://} image's manifest, as the mediator read it the first time (its exact bytes). */
    public static final String STORE_MANIFEST = "store-manifest.json";
    public static final String DEVIRTUALIZED = "devirtualized";

    private static final TypeReference<Map<String, Object>> STATUS_TYPE = new TypeReference<>() {};

    private NodeState() {}

    /** What a state dir belongs to: the image's export (not the socket it was reached by) and its size. */
    static String imageIdentity(NbdUri image, long size) {
        return "nbd export '" + image.exportName() + "' of " + size + " bytes";
    }

    /** The mediator's last status, or null when it has written none yet. */
    public static Map<String, Object> readStatus(Path state) throws IOException {
        Path f = state.resolve(STATUS);
        if (!Files.exists(f)) return null;
        try {
            return Jackson.MAPPER.readValue(f.toFile(), STATUS_TYPE);
        } catch (JsonProcessingException e) {
            throw new IOException(f + " is not a mediator status: " + e.getOriginalMessage(), e);
        }
    }

    public static void markDevirtualized(Path state, double secondsSinceStart) throws IOException {
        Path tmp = state.resolve(DEVIRTUALIZED + ".tmp");
        Files.writeString(tmp, "{\"t\":" + secondsSinceStart + "}\n", StandardCharsets.UTF_8);
        Files.move(tmp, state.resolve(DEVIRTUALIZED), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Records this process as the state dir's mediator (a standalone {@code node} as much as a supervised one). */
    static void recordPid(Path state) throws IOException {
        Path tmp = state.resolve(PID + ".tmp");
        Files.writeString(tmp, ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, state.resolve(PID), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static boolean isDevirtualized(Path state) {
        return Files.exists(state.resolve(DEVIRTUALIZED));
    }

    /** The process recorded in {@code node.pid}, when it is alive. */
    public static ProcessHandle runningNode(Path state) {
        try {
            String pid = Files.readString(state.resolve(PID)).trim();
            return ProcessHandle.of(Long.parseLong(pid)).filter(ProcessHandle::isAlive).orElse(null);
        } catch (IOException | NumberFormatException e) {
            return null;
        }
    }

    /** {@code node status}: the mediator's status with the phase as the whole instance sees it. */
    public static String statusJson(Path state) throws IOException {
        Map<String, Object> status = readStatus(state);
        Map<String, Object> out = new LinkedHashMap<>();
        ProcessHandle p = runningNode(state);
        if (status == null && p == null && MediatedDisk.recordedImageSize(state) < 0) {
            throw new IOException(state + " holds no mediator state (no status, no region map, no running mediator);"
                    + " give the --state dir of a node or an instance run");
        }
        if (status == null) {
            out.put("phase", "starting");
        } else {
            out.putAll(status);
            if (isDevirtualized(state)) out.put("phase", "devirtualized");
        }
        out.put("mediatorPid", p == null ? null : p.pid());
        return Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(out) + "\n";
    }
}
