package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.imagestore.StoreLocation;
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
            description = "Register an image served over NBD or kept in an object store; the controller checks it and caches its size and extent map (operator token).")
    public static final class Add implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(paramLabel = "NAME", description = "the image's name") String name;
        @Option(names = "--uri", required = true, paramLabel = "URI",
                description = "where it is: nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH on an image server, "
                        + "or s3://BUCKET/PREFIX/NAME in an object store (the controller checks every chunk and takes the "
                        + "manifest's kernel and initrd)") String uri;
        @Option(names = "--endpoint", paramLabel = "URL", description = "for an s3:// image: the S3-compatible server, e.g. http://10.0.0.5:9000") String endpoint;
        @Option(names = "--region", paramLabel = "REGION", description = "for an s3:// image: the store's region") String region;
        @Option(names = "--kernel", paramLabel = "FILE", description = "boot this kernel (else the disk's own boot loader boots)") Path kernel;
        @Option(names = "--initrd", paramLabel = "FILE", description = "with this initrd") Path initrd;
        @Option(names = "--append", paramLabel = "STR", description = "kernel command line") String append;

        @Override
        public Integer call() throws Exception {
            if (StoreLocation.isStoreUri(uri)) {
                try {
                    uri = StoreLocation.parse(uri).with(endpoint == null ? null : StoreLocation.endpoint(endpoint), region).toString();
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--uri: " + e.getMessage());
                }
            } else if (!uri.startsWith("nbd")) {
                throw new UsageException("--uri must be an NBD URI such as nbd://HOST:PORT/NAME or an s3://BUCKET/PREFIX/NAME image, not '" + uri + "'");
            } else if (endpoint != null || region != null) {
                throw new UsageException("--endpoint and --region are for an s3:// image");
            }
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
                    + " allocated)" + (img.hasKernel() ? ", boots its own kernel" : "")
                    + (img.manifestSha256() != null ? "; manifest sha256 " + img.manifestSha256() + " pinned" : ""));
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
