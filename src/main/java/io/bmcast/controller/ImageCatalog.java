package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.ImageRepository;
import io.bmcast.controller.store.ImageRow;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.StoreException;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.Api;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.storage.BootProfileFormat;
import io.bmcast.util.Units;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The images and their cached metadata (Swift Birth's second fix): an image server is asked once, when the
 * image is added; launches read the cache. In serialized mode (the pre-Swift-Birth toolstack, for the
 * benchmark) every launch asks the image server again.
 */
public final class ImageCatalog {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final int MAX_URI = 1024;
    private static final int MAX_APPEND = 4096;

    private final Database db;
    private final ImageRepository images;
    private final InstanceRepository instances;
    private final EventRepository events;
    private final Duration probeTimeout;
    private volatile java.nio.file.Path tlsDir;
    private final LongSupplier clockMs;
    /** Image rows by name: filled on first use, dropped on delete. Rows never change once added. */
    private final ConcurrentHashMap<String, ImageRow> cache = new ConcurrentHashMap<>();

    public ImageCatalog(Database db, ImageRepository images, InstanceRepository instances, EventRepository events,
            Duration probeTimeout, LongSupplier clockMs) {
        this.db = db;
        this.images = images;
        this.instances = instances;
        this.events = events;
        this.probeTimeout = probeTimeout;
        this.clockMs = clockMs;
    }

    /** TLS client credentials for probing {@code nbds://} images (null: none). */
    public ImageCatalog withTlsDir(java.nio.file.Path dir) {
        this.tlsDir = dir;
        return this;
    }

    /**
     * Adds an image after reading its metadata from {@code uri}; {@code kernel}, {@code initrd} (may be null) are
     * read into the store a chunk at a time, never whole.
     */
    public Api.Image add(Api.NewImage request, InputStream kernel, InputStream initrd) {
        if (request == null || request.name() == null || !NAME.matcher(request.name()).matches()) {
            throw ControllerException.invalid("an image name is 1-128 characters of letters, digits, '.', '_' or '-'");
        }
        if (request.uri() == null || request.uri().isBlank()) {
            throw ControllerException.invalid("an image needs a URI (uri): nbd://HOST:PORT/NAME or s3://BUCKET/PREFIX/NAME");
        }
        // the images table's columns: refused here, before the probe, rather than by the database after it
        if (request.uri().length() > MAX_URI) throw ControllerException.invalid("an image's uri is at most " + MAX_URI + " characters");
        if (request.append() != null && request.append().length() > MAX_APPEND) {
            throw ControllerException.invalid("an image's kernel command line (append) is at most " + MAX_APPEND + " characters");
        }
        if (initrd != null && kernel == null) throw ControllerException.invalid("an initrd needs a kernel to boot with");
        String name = request.name();
        if (find(name) != null) throw ControllerException.conflict("image '" + name + "' exists already");
        ImageProbe.Metadata meta;
        String manifestSha256 = null;
        String append = request.append() == null || request.append().isBlank() ? null : request.append();
        if (StoreLocation.isStoreUri(request.uri())) {
            // An image in the object store: the manifest says what it is, and every chunk is checked before it is
            // accepted. Its boot files come from the store unless the request brought its own.
            StoreImageProbe.Probed p = StoreImageProbe.probe(request.uri(), kernel == null);
            meta = p.metadata();
            manifestSha256 = p.manifestSha256();
            if (kernel == null && p.kernel() != null) {
                kernel = new ByteArrayInputStream(p.kernel());
                initrd = p.initrd() == null ? null : new ByteArrayInputStream(p.initrd());
                if (append == null) append = p.manifest().append();
            }
        } else {
            meta = ImageProbe.probe(request.uri(), probeTimeout, tlsDir);
        }
        InputStream kernelFile = kernel;
        InputStream initrdFile = initrd;
        String bootArgs = append;
        ImageRow row = new ImageRow(name, request.uri(), meta.sizeBytes(), meta.allocatedBytes(), meta.extentCount(), bootArgs,
                kernelFile != null, initrdFile != null, clockMs.getAsLong(), null, 0, manifestSha256);
        boolean added;
        try {
            added = db.transaction(tx -> {
                try {
                    if (!images.insert(tx, row, meta.extents(), kernelFile, initrdFile)) return false;
                } catch (ImageRepository.EmptyFileException e) {
                    throw ControllerException.invalid(e.getMessage());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                events.append(tx, new NewEvent("image.added", null, null, null, "image " + name + " added from " + request.uri()
                        + ": " + meta.sizeBytes() + " bytes, " + meta.allocatedBytes() + " allocated in " + meta.extentCount() + " extents"
                        + (row.manifestSha256() != null ? ", manifest sha256 " + row.manifestSha256() + " pinned" : "")));
                return true;
            });
        } catch (StoreException e) {
            if (!e.isDuplicateKey()) throw e;
            added = false;
        } catch (UncheckedIOException e) {
            throw ControllerException.invalid("the upload of image " + name + "'s boot files broke off: " + e.getCause().getMessage());
        }
        if (!added) throw ControllerException.conflict("image '" + name + "' exists already");
        cache.put(name, row);
        return view(row);
    }

    public List<Api.Image> list() {
        return db.read(images::list).stream().map(ImageCatalog::view).toList();
    }

    /** The image as a launch uses it: from the cache, or (serialized mode) as the image server says now. */
    public ImageRow forLaunch(String name, boolean rereadFromServer) {
        ImageRow row = find(name);
        if (row == null) throw ControllerException.notFound("no image named '" + name + "'");
        if (!rereadFromServer) return row;
        ImageProbe.Metadata meta = StoreLocation.isStoreUri(row.uri()) ? StoreImageProbe.metadata(row.uri(), row.manifestSha256())
                : ImageProbe.probe(row.uri(), probeTimeout, tlsDir);
        return new ImageRow(row.name(), row.uri(), meta.sizeBytes(), meta.allocatedBytes(), meta.extentCount(), row.append(),
                row.hasKernel(), row.hasInitrd(), row.createdAt(), row.bootProfileSha256(), row.bootProfileBytes(), row.manifestSha256());
    }

    /** What an agent needs to boot {@code name}. */
    public AgentProtocol.ImageSpec spec(String name) {
        ImageRow row = find(name);
        if (row == null) return null;
        String base = "/api/v1/images/" + row.name();
        return new AgentProtocol.ImageSpec(row.name(), row.uri(), row.sizeBytes(), row.allocatedBytes(),
                row.hasKernel() ? base + "/kernel" : null, row.hasInitrd() ? base + "/initrd" : null, row.append(),
                row.bootProfileSha256() != null ? base + "/boot-profile" : null, row.manifestSha256());
    }

    /**
     * The boot profile {@code node}'s deployment of {@code name} recorded until its guest was ready (VMTorrent: later
     * deployments fetch in that order). Kept once: the first one sent wins, and a later one is answered false and
     * changes nothing. The caller has checked that the node runs an instance of the image.
     */
    public boolean recordBootProfile(String name, byte[] profile, String node) {
        if (find(name) == null) throw ControllerException.notFound("no image named '" + name + "'");
        if (profile.length < 8 || profile.length > AgentProtocol.MAX_BOOT_PROFILE_BYTES) {
            throw ControllerException.invalid("a boot profile is 8 bytes to " + Units.formatSize(AgentProtocol.MAX_BOOT_PROFILE_BYTES)
                    + ", not " + profile.length);
        }
        if (!BootProfileFormat.isWhole(profile)) {
            throw ControllerException.invalid("the body is not a boot profile (BMCPROF1 and whole 12-byte records, or BMCPROF2 and "
                    + "whole 16-byte records)");
        }
        String sha = io.bmcast.util.Sha256.hex(java.nio.ByteBuffer.wrap(profile));
        boolean kept = db.transaction(tx -> {
            if (!images.recordBootProfile(tx, name, profile, sha, node)) return false;
            events.append(tx, new NewEvent("image.boot-profile", null, null, node, "image " + name + ": boot profile recorded by node "
                    + node + " (" + (profile.length - BootProfileFormat.HEADER) / BootProfileFormat.recordSize(profile) + " reads, " + Units.formatSize(profile.length) + "); later launches fetch in its order"));
            return true;
        });
        if (kept) cache.remove(name); // the row changed: read it again
        return kept;
    }

    /** The recorded boot profile and its SHA-256 (the ETag). */
    public record BootProfile(byte[] content, String sha256) {}

    public BootProfile bootProfile(String name) {
        ImageRow row = find(name);
        if (row == null) throw ControllerException.notFound("no image named '" + name + "'");
        byte[] content = db.read(tx -> images.bootProfile(tx, name)).orElseThrow(() ->
                ControllerException.notFound("image '" + name + "' has no boot profile yet (its first deployment records one)"));
        return new BootProfile(content, io.bmcast.util.Sha256.hex(java.nio.ByteBuffer.wrap(content)));
    }

    /** A boot file as a download reads it: its ETag (SHA-256) and length, its bytes a chunk at a time. */
    public BootDownload bootFile(String name, ImageRepository.BootFile kind) {
        if (find(name) == null) throw ControllerException.notFound("no image named '" + name + "'");
        ImageRepository.StoredFile f = db.read(tx -> images.bootFile(tx, name, kind)).orElseThrow(() -> ControllerException.notFound(
                "image '" + name + "' has no " + kind.name().toLowerCase(java.util.Locale.ROOT) + " (its disk boots itself)"));
        return new BootDownload(name, kind, f);
    }

    /** One download of a boot file. */
    public final class BootDownload {
        private final String image;
        private final ImageRepository.BootFile kind;
        private final ImageRepository.StoredFile file;

        BootDownload(String image, ImageRepository.BootFile kind, ImageRepository.StoredFile file) {
            this.image = image;
            this.kind = kind;
            this.file = file;
        }

        /** The content's SHA-256 in hex. */
        public String sha256() {
            return file.sha256();
        }

        public long sizeBytes() {
            return file.sizeBytes();
        }

        /**
         * Writes the file to {@code out}, one chunk in memory at a time and no database connection held while the
         * client reads; an IOException when the image went away (or changed) under way, so the client sees a
         * short body, never a mix of two files.
         */
        public void writeTo(java.io.OutputStream out) throws IOException {
            for (int seq = 0; seq < file.chunks(); seq++) {
                int at = seq;
                byte[] chunk = db.read(tx -> images.bootFileChunk(tx, image, kind, file.sha256(), at)).orElseThrow(() ->
                        new IOException("image " + image + "'s " + kind.name().toLowerCase(java.util.Locale.ROOT) + " was removed during the download"));
                out.write(chunk);
            }
        }
    }

    /** Moves boot files stored whole (before V5) into chunks, one file per transaction. Called at start. */
    void moveLegacyBootFiles() {
        for (String[] f : db.read(images::legacyFiles)) {
            db.transaction(tx -> {
                try {
                    images.moveLegacyFile(tx, f[0], f[1]);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return null;
            });
        }
    }

    /** The cached extent map. */
    public Api.ImageExtents extents(String name) {
        ImageRow row = find(name);
        if (row == null) throw ControllerException.notFound("no image named '" + name + "'");
        long[] pairs = db.read(tx -> images.extents(tx, name)).orElseThrow(() -> ControllerException.notFound("no image named '" + name + "'"));
        List<long[]> data = new java.util.ArrayList<>(pairs.length / 2);
        for (int i = 0; i + 1 < pairs.length; i += 2) data.add(new long[] {pairs[i], pairs[i + 1]});
        return new Api.ImageExtents(name, row.sizeBytes(), row.allocatedBytes(), data);
    }

    /** Removes an image no live instance uses. */
    public void delete(String name) {
        boolean deleted;
        try {
            deleted = db.transaction(tx -> {
                if (images.find(tx, name).isEmpty()) throw ControllerException.notFound("no image named '" + name + "'");
                int live = instances.liveUsing(tx, name);
                if (live > 0 || !images.deleteUnused(tx, name)) return false;
                events.append(tx, new NewEvent("image.deleted", null, null, null, "image " + name + " removed"));
                return true;
            });
        } catch (StoreException e) {
            if (!e.isForeignKey()) throw e;
            deleted = false; // a launch of it committed first: the foreign key keeps the image for its instances
        }
        if (!deleted) {
            int live = db.read(tx -> instances.liveUsing(tx, name));
            throw ControllerException.conflict("image '" + name + "' is used by " + live + " instance" + (live == 1 ? "" : "s")
                    + " that " + (live == 1 ? "is" : "are") + " not deleted; destroy them first");
        }
        cache.remove(name);
    }

    private ImageRow find(String name) {
        ImageRow row = cache.get(name);
        if (row != null) return row;
        row = db.read(tx -> images.find(tx, name)).orElse(null);
        if (row != null) cache.put(name, row);
        return row;
    }

    static Api.Image view(ImageRow r) {
        return new Api.Image(r.name(), r.uri(), r.sizeBytes(), r.allocatedBytes(), r.hasKernel(), r.hasInitrd(), r.append(),
                Views.time(r.createdAt()), r.bootProfileSha256() != null, r.bootProfileBytes(), r.manifestSha256());
    }
}
