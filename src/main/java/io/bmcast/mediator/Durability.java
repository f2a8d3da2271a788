package io.bmcast.mediator;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The points where the mediator makes something durable: every {@code fdatasync}/{@code fsync} of the
 * local disk and of the state files goes through here, so tests can model a power loss by keeping, for
 * each file, only what had been forced (see the crash tests).
 */
public interface Durability {

    /** Forces {@code channel} (opened on {@code path}) to stable storage; file metadata too when {@code metadata}. */
    void force(FileChannel channel, Path path, boolean metadata) throws IOException;

    /** Makes the entries of {@code dir} (created or renamed files) durable. */
    void syncDirectory(Path dir) throws IOException;

    /** The real thing: {@link FileChannel#force} and an fsync of the directory. */
    Durability SYSTEM = new Durability() {
        @Override
        public void force(FileChannel channel, Path path, boolean metadata) throws IOException {
            channel.force(metadata);
        }

        @Override
        public void syncDirectory(Path dir) throws IOException {
            // Linux lets a directory be opened read-only and fsynced; that is what makes a rename durable.
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            }
        }
    };
}
