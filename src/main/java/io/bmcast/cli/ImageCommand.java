package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.util.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bmcast image add | ls | rm}: the images instances boot from ({@code push | pull | verify}: {@link StoreImageCommands}). */
@Command(name = "image", mixinStandardHelpOptions = true,
        description = "Manage the images instances boot from; push, pull and verify images in an S3-compatible object store.",
        subcommands = {ImageCommand.Add.class, ImageCommand.Ls.class, ImageCommand.Rm.class,
            StoreImageCommands.Push.class, StoreImageCommands.Pull.class, StoreImageCommands.Verify.class})
public final class ImageCommand {

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = "Register an image served over NBD; the controller checks it and caches its size and extent map (operator token).")
    public static final class Add implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(paramLabel = "NAME", description = "the image's name") String name;
        @Option(names = "--uri", required = true, paramLabel = "NBD_URI",
                description = "where it is served: nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH") String uri;
        @Option(names = "--kernel", paramLabel = "FILE", description = "boot this kernel (else the disk's own boot loader boots)") Path kernel;
        @Option(names = "--initrd", paramLabel = "FILE", description = "with this initrd") Path initrd;
        @Option(names = "--append", paramLabel = "STR", description = "kernel command line") String append;

        @Override
        public Integer call() throws Exception {
            if (!uri.startsWith("nbd")) throw new UsageException("--uri must be an NBD URI such as nbd://HOST:PORT/NAME, not '" + uri + "'");
            for (Path f : new Path[] {kernel, initrd}) {
                if (f != null && !Files.isRegularFile(f)) throw new UsageException("no such file: " + f);
            }
            if (initrd != null && kernel == null) throw new UsageException("--initrd needs --kernel");
            if (append != null && kernel == null) throw new UsageException("--append needs --kernel");
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("name", name);
            fields.put("uri", uri);
            fields.put("append", append);
            Map<String, Path> files = new HashMap<>();
            files.put("kernel", kernel);
            files.put("initrd", initrd);
            Api.Image img = controller.client().postMultipart("api/v1/images", fields, files, ApiClient.IMAGE);
            controller.out().println("image " + img.name() + ": " + Fleet.size(img.sizeBytes()) + " (" + Fleet.size(img.allocatedBytes())
                    + " allocated)" + (img.hasKernel() ? ", boots its own kernel" : ""));
            return 0;
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List images.")
    public static final class Ls implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Option(names = "--json", description = "print JSON objects") boolean json;

        @Override
        public Integer call() throws Exception {
            List<Api.Image> images = controller.client().get("api/v1/images", ApiClient.IMAGES);
            if (json) {
                Fleet.printJson(controller.out(), images);
                return 0;
            }
            Table t = new Table("NAME", "SIZE", "ALLOCATED", "KERNEL", "URI");
            for (Api.Image i : images) {
                t.row(i.name(), Fleet.size(i.sizeBytes()), Fleet.size(i.allocatedBytes()), i.hasKernel() ? "yes" : "disk", i.uri());
            }
            t.print(controller.out());
            return 0;
        }
    }

    @Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove an image no live instance uses (operator token).")
    public static final class Rm implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() throws Exception {
            controller.client().delete("api/v1/images/" + Paths.segment(name), null);
            controller.out().println("image " + name + " removed");
            return 0;
        }
    }
}
