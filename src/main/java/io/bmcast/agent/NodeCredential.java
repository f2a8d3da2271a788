package io.bmcast.agent;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The node's credential as its agent keeps it: {@code WORK/node.credential}, readable by the agent's user only
 * (0600 from its creation, never wider for an instant). It is what makes this machine the node of its name: a
 * machine whose work directory is lost must have its name freed by the operator ({@code bmcast node rm}).
 */
final class NodeCredential {
    static final String FILE = "node.credential";

    private NodeCredential() {}

    /** The credential kept in {@code dir}, or null when there is none (this machine never registered). */
    static String load(Path dir) throws IOException {
        try {
            String c = Files.readString(dir.resolve(FILE), StandardCharsets.UTF_8).strip();
            return c.isEmpty() ? null : c;
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Keeps {@code credential} in {@code dir}: written to a 0600 temporary file, synced, then renamed over. */
    static void save(Path dir, String credential) throws IOException {
        Path tmp = dir.resolve(FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap((credential + "\n").getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
