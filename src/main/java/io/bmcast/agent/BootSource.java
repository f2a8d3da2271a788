package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Where an instance's boot files and the image's extent map come from: the controller (through
 * {@link BootFiles}' cache), or local files.
 */
public interface BootSource {
    /**
     * Paths to pass to {@code instance run}; each null when there is none (the image boots itself, the mediator
     * asks the image server for its extents, no boot profile was recorded yet).
     */
    record Local(Path kernel, Path initrd, Path extents, Path bootProfile) {
        public Local(Path kernel, Path initrd) {
            this(kernel, initrd, null, null);
        }

        public Local(Path kernel, Path initrd, Path extents) {
            this(kernel, initrd, extents, null);
        }
    }

    Local fetch(ImageSpec image) throws IOException, InterruptedException;
}
