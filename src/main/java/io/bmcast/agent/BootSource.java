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
     * Paths to pass to {@code instance run}; each null when there is none (the image boots itself, or the mediator
     * asks the image server for its extents).
     */
    record Local(Path kernel, Path initrd, Path extents) {
        public Local(Path kernel, Path initrd) {
            this(kernel, initrd, null);
        }
    }

    Local fetch(ImageSpec image) throws IOException, InterruptedException;
}
