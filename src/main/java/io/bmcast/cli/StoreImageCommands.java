package io.bmcast.cli;

import io.bmcast.imagestore.ImageVerifier;
import io.bmcast.imagestore.ManifestDigest;
import io.bmcast.imagestore.Puller;
import io.bmcast.imagestore.Pusher;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TransferProgress;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.Units;
import io.bmcast.util.UsageException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code bmcast image push | pull | verify}: images in an S3-compatible object store, straight between this machine
 * and the store (no controller). Credentials as AWS tools take them; see {@link StoreClient}.
 */
final class StoreImageCommands {
    private StoreImageCommands() {}

    /** Where the store is and how hard to work it, shared by the three commands. */
    static final class StoreOptions {
        @Spec(Spec.Target.MIXEE) CommandSpec command;
        @Option(names = "--endpoint", paramLabel = "URL",
                description = "the S3 server (MinIO, Ceph RGW, ...; path-style addressing); else the URI's ?endpoint=, else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS") String endpoint;
        @Option(names = "--region", paramLabel = "R", description = "else the URI's ?region=, else AWS_REGION or the profile's, else us-east-1") String region;
        @Option(names = "--jobs", paramLabel = "N", defaultValue = "8", description = "chunks in flight at once (default ${DEFAULT-VALUE})") int jobs;
        @Option(names = "--json", description = "print a summary object on standard output") boolean json;

        StoreLocation location(String uri) {
            try {
                URI ep = endpoint == null ? null : StoreLocation.endpoint(endpoint);
                return StoreLocation.parse(uri).with(ep, region);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }

        int jobs() {
            if (jobs < 1 || jobs > 256) throw new UsageException("--jobs must be 1 to 256, not " + jobs);
            return jobs;
        }

        PrintWriter out() {
            return command.commandLine().getOut();
        }

        PrintWriter err() {
            return command.commandLine().getErr();
        }

        void json(Map<String, Object> summary) throws IOException {
            Fleet.printJson(out(), summary);
        }

        /** The closing line on stdout; with --json, that line on stderr and the summary object on stdout. Returns 0. */
        int report(String text, java.util.function.Supplier<Map<String, Object>> summary) throws IOException {
            if (!json) {
                out().println(text);
                return 0;
            }
            err().println(text);
            json(summary.get());
            return 0;
        }
    }

    /** {@code --manifest-sha256} as pull and verify take it: null for none, else 64 hex digits. */
    static String pin(String text) {
        try {
            return ManifestDigest.parse(text);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--manifest-sha256: " + e.getMessage());
        }
    }

    static String seconds(long nanos) {
        return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }

    static String percent(double f) {
        return String.format(Locale.ROOT, "%.1f%%", f * 100);
    }

    @Command(name = "push", mixinStandardHelpOptions = true,
            description = "Upload an image file or block device to an object store as verified chunks and a manifest (written last).")
    static final class Push implements Callable<Integer> {
        @Mixin StoreOptions store;
        @Parameters(paramLabel = "FILE", description = "the image: a file (holes are skipped) or a block device") Path file;
        @Option(names = "--to", required = true, paramLabel = "s3://BUCKET/PREFIX/NAME", description = "where the image goes") String to;
        @Option(names = "--chunk-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "1M",
                description = "power of two, 64K to 16M (default ${DEFAULT-VALUE})") long chunkSize;
        @Option(names = "--kernel", paramLabel = "FILE", description = "boot this kernel (else the disk's own boot loader boots)") Path kernel;
        @Option(names = "--initrd", paramLabel = "FILE", description = "with this initrd") Path initrd;
        @Option(names = "--append", paramLabel = "STR", description = "kernel command line") String append;
        @Option(names = "--parent", paramLabel = "URI", description = "the image this one derives from (recorded in the manifest)") String parent;
        @Option(names = "--create-bucket", description = "create the bucket when it does not exist (a fresh store)") boolean createBucket;

        @Override
        public Integer call() throws Exception {
            StoreLocation where = store.location(to);
            if (!Files.exists(file)) throw new UsageException("no such file: " + file);
            if (Files.isDirectory(file)) throw new UsageException(file + " is a directory, not an image file or block device");
            for (Path f : new Path[] {kernel, initrd}) {
                if (f != null && !Files.isRegularFile(f)) throw new UsageException("no such file: " + f);
            }
            if (parent != null) store.location(parent); // a URI that reads
            Pusher.Options o;
            try {
                o = new Pusher.Options(file, (int) Math.min(chunkSize, Integer.MAX_VALUE), kernel, initrd, append, parent, store.jobs());
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            TransferProgress progress = new TransferProgress("push", "uploaded");
            Pusher.Summary s;
            try (StoreClient c = StoreClient.open(where)) {
                if (createBucket) c.ensureBucket();
                try (ProgressLine line = new ProgressLine(store.err(), progress)) {
                    s = new Pusher(c, where).push(o, progress);
                }
            }
            String text = "pushed " + s.image() + ": " + Units.formatSize(s.size()) + " image, " + Units.formatSize(s.dataBytes()) + " data in "
                    + s.dataChunks() + " of " + s.chunks() + " chunks; " + s.uploaded() + " uploaded, " + s.present() + " already stored ("
                    + percent(s.dedup()) + " dedup); " + Units.formatSize(s.storedBytes()) + " stored for its data ("
                    + (s.dataBytes() == 0 ? "-" : percent((double) s.storedBytes() / s.dataBytes())) + "), "
                    + Units.formatSize(s.uploadedBytes()) + " sent; " + seconds(s.nanos()) + "; manifest sha256 " + s.manifestSha256();
            return store.report(text, () -> {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("image", s.image());
                j.put("sizeBytes", s.size());
                j.put("chunkSize", o.chunkSize());
                j.put("chunks", s.chunks());
                j.put("dataChunks", s.dataChunks());
                j.put("dataBytes", s.dataBytes());
                j.put("uploaded", s.uploaded());
                j.put("alreadyStored", s.present());
                j.put("dedupRatio", s.dedup());
                j.put("storedBytes", s.storedBytes());
                j.put("uploadedBytes", s.uploadedBytes());
                j.put("seconds", s.nanos() / 1e9);
                j.put("manifestSha256", s.manifestSha256());
                return j;
            });
        }
    }

    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = "Download an image from an object store into a sparse file, every chunk verified before it is written.")
    static final class Pull implements Callable<Integer> {
        @Mixin StoreOptions store;
        @Parameters(index = "0", paramLabel = "s3://BUCKET/PREFIX/NAME") String from;
        @Parameters(index = "1", paramLabel = "FILE", description = "a new file (written as FILE.part, renamed when complete)") Path file;
        @Option(names = "--boot-files", paramLabel = "DIR",
                description = "where the manifest's boot files go, as FILE.kernel, FILE.initrd, FILE.append (default: beside FILE)") Path bootFiles;
        @Option(names = "--manifest-sha256", paramLabel = "HEX",
                description = "refuse the image unless its manifest's SHA-256 is this one (what image push printed, what the controller recorded at add)") String manifestSha256;

        @Override
        public Integer call() throws Exception {
            StoreLocation where = store.location(from);
            String pin = pin(manifestSha256);
            TransferProgress progress = new TransferProgress("pull", "fetched");
            Puller.Summary s;
            try (StoreClient c = StoreClient.open(where); ProgressLine line = new ProgressLine(store.err(), progress)) {
                s = new Puller(c, where, pin).pull(file, bootFiles, store.jobs(), progress);
            }
            String text = "pulled " + s.image() + " to " + s.file() + ": " + Units.formatSize(s.size()) + " image, " + s.dataChunks()
                    + " chunks verified, " + Units.formatSize(s.dataBytes()) + " written (the rest holes), " + Units.formatSize(s.fetchedBytes())
                    + " fetched; " + seconds(s.nanos())
                    + (s.bootFiles().isEmpty() ? "" : "; boot files verified: " + String.join(", ", s.bootFiles().stream().map(Path::toString).toList()));
            return store.report(text, () -> {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("image", s.image());
                j.put("file", s.file().toString());
                j.put("sizeBytes", s.size());
                j.put("dataChunks", s.dataChunks());
                j.put("writtenBytes", s.dataBytes());
                j.put("fetchedBytes", s.fetchedBytes());
                j.put("bootFiles", s.bootFiles().stream().map(Path::toString).toList());
                j.put("seconds", s.nanos() / 1e9);
                return j;
            });
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Fetch and check every chunk and boot file of an image in an object store; list each one missing or bad (exit 1).")
    static final class Verify implements Callable<Integer> {
        @Mixin StoreOptions store;
        @Parameters(paramLabel = "s3://BUCKET/PREFIX/NAME") String image;
        @Option(names = "--manifest-sha256", paramLabel = "HEX",
                description = "refuse the image unless its manifest's SHA-256 is this one (what image push printed, what the controller recorded at add)") String manifestSha256;

        @Override
        public Integer call() throws Exception {
            StoreLocation where = store.location(image);
            String pin = pin(manifestSha256);
            TransferProgress progress = new TransferProgress("verify", "fetched");
            ImageVerifier.Result r;
            try (StoreClient c = StoreClient.open(where); ProgressLine line = new ProgressLine(store.err(), progress)) {
                r = new ImageVerifier(c, where, pin).verify(store.jobs(), progress);
            }
            if (store.json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("image", r.image());
                j.put("ok", r.ok());
                j.put("chunks", r.chunks());
                j.put("dataChunks", r.dataChunks());
                j.put("verifiedStoredBytes", r.storedBytes());
                j.put("verifiedDataBytes", r.dataBytes());
                j.put("problems", r.problems());
                j.put("seconds", r.nanos() / 1e9);
                store.json(j);
            } else {
                for (ImageVerifier.Problem p : r.problems()) store.out().println(p.what());
            }
            if (!r.ok()) {
                throw new IOException(r.image() + " failed verification: " + r.problems().size() + " of " + r.dataChunks()
                        + " chunks (and boot files) missing or bad" + (store.json ? "" : ", listed above"));
            }
            if (!store.json) {
                store.out().println("verified " + r.image() + ": " + r.dataChunks() + " chunks, " + Units.formatSize(r.storedBytes())
                        + " stored = " + Units.formatSize(r.dataBytes()) + " of data, every chunk's SHA-256 and length checked; " + seconds(r.nanos()));
            }
            return 0;
        }
    }
}
