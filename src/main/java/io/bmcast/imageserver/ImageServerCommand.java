package io.bmcast.imageserver;

import io.bmcast.storage.LinkEmulator;
import io.bmcast.transport.Export;
import io.bmcast.transport.NbdServer;
import io.bmcast.util.UsageException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast image-server}: every image file of a directory, read-only over NBD. */
@Command(name = "image-server", sortOptions = false,
        description = "Export every file of DIR read-only over NBD, named after the file without its extension. "
                + "Give exactly one of --socket and --listen.")
public final class ImageServerCommand implements Callable<Integer> {
    /**
     * Mediators reconnect on their own, so dropping a client idle this long costs it nothing, and frees the
     * slot of a client that went away without closing.
     */
    static final Duration IDLE_TIMEOUT = Duration.ofMinutes(10);

    @Option(names = "--dir", paramLabel = "DIR", required = true, description = "The directory of image files.")
    Path dir;

    @Mixin
    ServeOptions serve;

    @Override
    public Integer call() throws Exception {
        serve.check();
        NbdServer.Limits limits = serve.limits(IDLE_TIMEOUT);
        serve.faults();
        LinkEmulator link = serve.link();
        Map<String, Export> exports;
        try {
            exports = ImageServer.exportsOf(dir, link);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        return serve.serve(exports, NbdServer.Config.defaults().withLimits(limits), link);
    }
}
