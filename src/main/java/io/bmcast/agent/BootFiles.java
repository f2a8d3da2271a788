package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.Api;
import io.bmcast.mediator.ImageExtents;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * An image's kernel, initrd and extent map, downloaded from the controller once and kept under {@code WORK/cache}: Swift
 * Birth's cached metadata, so N launches of one image on a node fetch its boot files once. The cache key covers
 * everything the controller says about the image, so an image removed and added again under the same name with
 * other boot files is fetched anew. These are the image's boot files, shared by every tenant of the image, not a
 * tenant's data: they are kept across scrubs.
 */
final class BootFiles implements BootSource {
    private static final System.Logger LOG = System.getLogger("io.bmcast.agent");

    private final Path cache;
    private final ControllerClient client;

    BootFiles(Path cache, ControllerClient client) {
        this.cache = cache;
        this.client = client;
    }

    @Override
    public BootSource.Local fetch(ImageSpec image) throws IOException, InterruptedException {
        Path dir = cache.resolve(key(image));
        Files.createDirectories(dir);
        Path kernel = image.kernelPath() == null ? null : get(image.kernelPath(), dir.resolve("kernel"));
        Path initrd = image.initrdPath() == null ? null : get(image.initrdPath(), dir.resolve("initrd"));
        return new BootSource.Local(kernel, initrd, extents(image, dir.resolve("extents.json")));
    }

    /**
     * The image's extent map as the mediator reads it ({@code --source-extents}), so that no launch of the image
     * on this node asks the image server for block status again. Optional: without it the mediator asks.
     */
    private Path extents(ImageSpec image, Path target) throws InterruptedException {
        if (Files.exists(target)) return target;
        String path = "/api/v1/images/" + URLEncoder.encode(image.name(), StandardCharsets.UTF_8).replace("+", "%20") + "/extents";
        try {
            Path raw = target.resolveSibling("extents-api.json");
            client.download(path, raw);
            Api.ImageExtents x = Jackson.MAPPER.readValue(raw.toFile(), Api.ImageExtents.class);
            Files.delete(raw);
            if (x.sizeBytes() != image.sizeBytes()) throw new IOException("the map is of " + x.sizeBytes() + " bytes, the image of " + image.sizeBytes());
            new ImageExtents(x.sizeBytes(), x.data().toArray(long[][]::new)).write(target);
            return target;
        } catch (IOException | IllegalArgumentException e) {
            LOG.log(System.Logger.Level.WARNING, "no cached extent map for image " + image.name() + " (" + e.getMessage()
                    + "): the mediator will ask the image server");
            return null;
        }
    }

    private Path get(String apiPath, Path target) throws IOException, InterruptedException {
        // Downloads land under a temp name and are renamed: a file with its final name is complete.
        if (!Files.exists(target)) client.download(apiPath, target);
        return target;
    }

    static String key(ImageSpec image) {
        String id = String.join("\n", image.name(), image.uri(), Long.toString(image.sizeBytes()),
                Long.toString(image.allocatedBytes()), String.valueOf(image.kernelPath()), String.valueOf(image.initrdPath()));
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
            return image.name().replaceAll("[^A-Za-z0-9._-]", "_") + "-" + HexFormat.of().formatHex(h, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
