package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.ImageSpec;
import io.bmcast.fleet.Api;
import io.bmcast.mediator.ImageExtents;
import io.bmcast.util.Jackson;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An image's kernel, initrd and extent map, downloaded from the controller once and kept under {@code WORK/cache}: Swift
 * Birth's cached metadata, so N launches of one image on a node fetch its boot files once. Kernels and initrds are
 * kept by their ETag (the content's SHA-256, checked on arrival) under {@code cache/boot}: each launch asks the
 * controller with {@code If-None-Match} and a 304 reuses the copy, so an image removed and added again under the
 * same name with another kernel gets the new one, and images sharing a kernel share one copy. The extent map's key
 * covers everything the controller says about the image. These are the image's boot files, shared by every tenant
 * of the image, not a tenant's data: they are kept across scrubs.
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
        Path kernel = image.kernelPath() == null ? null : get(image.kernelPath());
        Path initrd = image.initrdPath() == null ? null : get(image.initrdPath());
        return new BootSource.Local(kernel, initrd, extents(image, dir.resolve("extents.json")), bootProfile(image));
    }

    /**
     * The boot profile the image's first deployment recorded, kept by its ETag like a kernel, so that the mediator
     * fetches in the order the guest will read. A hint: without it (none yet, or the download failed) the mediator
     * fetches in ascending order, so a failure is logged, never fatal.
     */
    private Path bootProfile(ImageSpec image) throws InterruptedException {
        if (image.bootProfilePath() == null) return null;
        try {
            return get(image.bootProfilePath());
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "no boot profile for image " + image.name() + " (" + e.getMessage()
                    + "): the mediator fetches in ascending order");
            return null;
        }
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

    /**
     * The boot file at {@code apiPath}: {@code boot/SHA256} once checked. {@code boot/PATHKEY.etag} remembers which
     * content the path served last, and is what the controller is asked whether it still serves.
     */
    private Path get(String apiPath) throws IOException, InterruptedException {
        Path boot = Files.createDirectories(cache.resolve("boot"));
        Path tag = boot.resolve(digest(apiPath).substring(0, 16) + ".etag");
        String known = Files.exists(tag) ? Files.readString(tag).strip() : null;
        if (known != null && !Files.exists(boot.resolve(known))) known = null;
        // Downloads land under a temp name and are renamed: a file with its final name is complete and checked.
        Path fresh = boot.resolve("download-" + digest(apiPath).substring(0, 16));
        String etag = client.download(apiPath, fresh, known);
        if (etag != null && etag.equals(known) && !Files.exists(fresh)) return boot.resolve(known);
        String sha = digest(fresh);
        if (etag != null && !etag.equals(sha)) {
            Files.deleteIfExists(fresh);
            throw new IOException("downloaded " + apiPath + " does not match its ETag (SHA-256 " + sha + ", ETag " + etag + ")");
        }
        Path kept = boot.resolve(sha);
        Files.move(fresh, kept, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Path tmpTag = tag.resolveSibling(tag.getFileName() + ".part");
        Files.writeString(tmpTag, sha);
        Files.move(tmpTag, tag, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forgetUnreferenced(boot);
        return kept;
    }

    /**
     * Removes every kept file that no path serves any more (an image added again with another kernel leaves its old
     * one behind), so the cache holds at most one content per boot path this node has used. Only after a download: a
     * kept file is never removed while a path still points at it, and one agent boots one instance at a time.
     */
    private static void forgetUnreferenced(Path boot) throws IOException {
        Set<String> served = new HashSet<>();
        List<Path> contents = new ArrayList<>();
        try (Stream<Path> files = Files.list(boot)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (name.endsWith(".etag")) served.add(Files.readString(p).strip());
                else if (CONTENT_NAME.matcher(name).matches()) contents.add(p);
            }
        }
        for (Path p : contents) {
            if (!served.contains(p.getFileName().toString())) Files.deleteIfExists(p);
        }
    }

    private static final Pattern CONTENT_NAME = Pattern.compile("[0-9a-f]{64}");

    private static String digest(String text) {
        return Sha256.hex(text.getBytes(StandardCharsets.UTF_8));
    }

    private static String digest(Path file) throws IOException {
        MessageDigest sha = Sha256.digest();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[64 << 10];
            int n;
            while ((n = in.read(buf)) > 0) sha.update(buf, 0, n);
        }
        return Sha256.hex(sha);
    }

    static String key(ImageSpec image) {
        String id = String.join("\n", image.name(), image.uri(), Long.toString(image.sizeBytes()),
                Long.toString(image.allocatedBytes()), String.valueOf(image.kernelPath()), String.valueOf(image.initrdPath()));
        return image.name().replaceAll("[^A-Za-z0-9._-]", "_") + "-" + digest(id).substring(0, 12);
    }
}
