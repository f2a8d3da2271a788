package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import java.io.IOException;
import java.nio.file.Path;

/** Where an instance's boot files come from: the controller (through {@link BootFiles}' cache), or local files. */
public interface BootSource {
    /** Paths to pass to {@code instance run}; null when the image boots without one. */
    record Local(Path kernel, Path initrd) {}

    Local fetch(ImageSpec image) throws IOException, InterruptedException;
}
