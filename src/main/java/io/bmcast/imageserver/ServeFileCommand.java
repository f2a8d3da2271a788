package io.bmcast.imageserver;

import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.transport.NbdServer;
import io.bmcast.util.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bmcast serve-file}: one file over NBD, under its stem and as the default export. */
@Command(name = "serve-file", sortOptions = false,
        description = "Export one file over NBD, as its name without extension and as the default export. Give "
                + "exactly one of --socket and --listen.")
public final class ServeFileCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "The file to serve.")
    Path file;

    @Option(names = "--writable", description = "Accept writes (the export is read-only otherwise).")
    boolean writable;

    @Mixin
    ServeOptions serve;

    @Override
    public Integer call() throws Exception {
        serve.check();
        // QEMU attached straight to the file has no reconnect by default: never drop it for idling.
        NbdServer.Limits limits = serve.limits(Duration.ZERO);
        serve.faults();
        LinkEmulator link = serve.link();
        if (!Files.exists(file)) throw new UsageException("no such file: " + file);
        if (Files.isDirectory(file)) throw new UsageException(file + " is a directory (serve a directory with image-server --dir)");
        FileExport export;
        try {
            export = FileExport.open(file, !writable);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        return serve.serve(Map.of(export.name(), ImageServer.wrap(export, link)),
                NbdServer.Config.defaults().withDefaultExport(export.name()).withLimits(limits), link);
    }
}
