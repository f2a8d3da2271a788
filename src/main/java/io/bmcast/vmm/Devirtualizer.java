package io.bmcast.vmm;

import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Takes the mediator out of a running guest's I/O path (DESIGN.md, "De-virtualization recipe"): the guest's
 * device sits on the raw node {@code fmt}; {@code fmt} is re-opened onto a new local file node, and the NBD node
 * below it is deleted. QEMU drains in-flight requests around the reopen, so the guest sees no error and no
 * pause worth measuring. The caller must have made the local disk complete and flushed first: from the reopen
 * on, every guest read is served from it.
 *
 * <p>If the reopen fails the new node is removed again, leaving the guest on NBD as before.
 */
public final class Devirtualizer {
    private final Qmp qmp;

    public Devirtualizer(Qmp qmp) { this.qmp = qmp; }

    /** Moves the guest disk from {@code nbd0} to {@code localDisk} (a file or a /dev block device). */
    public void devirtualize(Path localDisk) throws IOException {
        if (!Files.exists(localDisk)) throw new IOException("local disk " + localDisk + " does not exist");
        step("attach the local disk", "blockdev-add", Qemu.localNode(localDisk));
        try {
            step("re-point the guest disk at it", "blockdev-reopen", Map.of("options", List.of(
                    Map.of("node-name", GuestDisk.FORMAT_NODE, "driver", "raw", "file", GuestDisk.LOCAL_NODE))));
        } catch (IOException e) {
            try {
                qmp.execute("blockdev-del", Map.of("node-name", GuestDisk.LOCAL_NODE));
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        step("detach the NBD node", "blockdev-del", Map.of("node-name", GuestDisk.NBD_NODE));
    }

    /** The file name QEMU reports for the node under the guest device ({@code fmt}'s image), e.g. to check. */
    @SuppressWarnings("unchecked")
    public String currentBacking() throws IOException {
        Object r = qmp.execute("query-named-block-nodes", Map.of("flat", true));
        for (Object o : (List<Object>) r) {
            Map<String, Object> n = (Map<String, Object>) o;
            if (GuestDisk.FORMAT_NODE.equals(n.get("node-name"))) return String.valueOf(n.get("file"));
        }
        throw new IOException("no block node named " + GuestDisk.FORMAT_NODE);
    }

    /** Names of all block nodes QEMU has, e.g. to check that {@code nbd0} is gone. */
    @SuppressWarnings("unchecked")
    public List<String> nodeNames() throws IOException {
        Object r = qmp.execute("query-named-block-nodes", Map.of("flat", true));
        return ((List<Object>) r).stream().map(o -> String.valueOf(((Map<String, Object>) o).get("node-name"))).toList();
    }

    private void step(String what, String command, Map<String, ?> args) throws IOException {
        try {
            qmp.execute(command, args);
        } catch (QmpException e) {
            throw new IOException("de-virtualization failed to " + what + " (" + command + " " + Jackson.MAPPER.writeValueAsString(args)
                    + "): " + e.errorClass() + ": " + e.description(), e);
        }
    }
}
