package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * An image's kernel and initrd, downloaded from the controller once and kept under {@code WORK/cache}: Swift
 * Birth's cached metadata, so N launches of one image on a node fetch its boot files once. The cache key covers
 * everything the controller says about the image, so an image removed and added again under the same name with
 * other boot files is fetched anew. These are the image's boot files, shared by every tenant of the image, not a
 * tenant's data: they are kept across scrubs.
 */
final class BootFiles {
    /** Paths to pass to {@code instance run}; null when the image boots without one. */
    record Local(Path kernel, Path initrd) {}

    private final Path cache;
    private final ControllerClient client;

    BootFiles(Path cache, ControllerClient client) {
        this.cache = cache;
        this.client = client;
    }

    Local fetch(ImageSpec image) throws IOException, InterruptedException {
        if (image.kernelPath() == null) return new Local(null, null);
        Path dir = cache.resolve(key(image));
        Files.createDirectories(dir);
        Path kernel = get(image.kernelPath(), dir.resolve("kernel"));
        Path initrd = image.initrdPath() == null ? null : get(image.initrdPath(), dir.resolve("initrd"));
        return new Local(kernel, initrd);
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
