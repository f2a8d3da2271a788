package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.cli.MainTest.Run;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.Tools;
import io.bmcast.util.Jackson;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code image push | pull | verify} as a user runs them, against a real S3 server (S3Proxy in its own process):
 * in this JVM through {@link Main#run}, and as child processes where the environment or a SIGKILL matters.
 */
class StoreImageCommandsTest {
    private static final int MIB = 1 << 20;

    @TempDir static Path store;
    @TempDir Path tmp;
    static LocalS3 s3;

    @BeforeAll
    static void start() throws Exception {
        s3 = LocalS3.start(store);
        LocalS3.useLocalCredentials();
        try (StoreClient c = StoreClient.open(s3.location("images", "x"))) {
            c.ensureBucket();
        }
    }

    @AfterAll
    static void stop() {
        if (s3 != null) s3.close();
    }

    private static String uri(String prefixAndName) {
        return s3.location("images", prefixAndName).toString();
    }

    private static Run ok(String... words) {
        Run r = MainTest.bmcast(words);
        assertEquals(0, r.rc(), "bmcast " + String.join(" ", words) + ":\n" + r.err() + r.out());
        return r;
    }

    private static JsonNode json(Run r) throws IOException {
        return Jackson.MAPPER.readTree(r.out());
    }

    /** Blocks the file system holds for {@code f} (st_blocks x 512): what "holes preserved" is measured by. */
    private static long allocated(Path f) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b", f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertEquals(0, p.waitFor());
        return Long.parseLong(out) * 512;
    }

    /** Writes {@code bytes} at {@code offset} of a sparse file of {@code size} (created when new). */
    private static void write(Path f, long size, long offset, byte[] bytes) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            if (raf.length() != size) raf.setLength(size);
            raf.seek(offset);
            raf.write(bytes);
        }
    }

    private static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** Text-like bytes that zstd shrinks (a different line per {@code seed}, so chunks differ). */
    private static byte[] compressible(int seed, int n) {
        byte[] line = ("line " + seed + " of a guest's log: the quick brown fox jumps over the lazy dog\n").getBytes(StandardCharsets.US_ASCII);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = line[i % line.length];
        return b;
    }

    /**
     * A 64 MiB sparse image: random data, compressible data, a written run of zeros, a short tail chunk; holes
     * between. Pushed, verified, pulled: the copy is byte-identical and as sparse as the original.
     */
    @Test
    void pushVerifyPullRoundTripsByteIdenticalAndSparse() throws Exception {
        Random r = new Random(1);
        Path img = tmp.resolve("disk.img");
        long size = 64L * MIB + 12345; // the last chunk is short
        write(img, size, 0, random(r, 3 * MIB));
        write(img, size, 10L * MIB + 4096, compressible(1, 2 * MIB)); // straddles chunks 10-12
        write(img, size, 20L * MIB, new byte[2 * MIB]); // allocated zeros: stored as holes
        write(img, size, 40L * MIB, random(r, 1000)); // a partly written chunk
        write(img, size, 64L * MIB, random(r, 12345)); // the tail
        Run push = ok("image", "push", img.toString(), "--to", uri("rt/disk"), "--json");
        JsonNode p = json(push);
        assertEquals(65, p.get("chunks").asInt());
        assertEquals(3 + 3 + 1 + 1, p.get("dataChunks").asInt(), push.out()); // chunks 0-2, 10-12, 40, 64; zeros 20-21 are holes
        assertEquals(8, p.get("uploaded").asInt());
        assertTrue(p.get("storedBytes").asLong() < p.get("dataBytes").asLong(), "compressible chunks are stored smaller: " + push.out());
        assertTrue(push.err().contains("pushed s3://images/rt/disk: 64.0 MiB image"), push.err());

        Run verify = ok("image", "verify", uri("rt/disk"));
        assertTrue(verify.out().startsWith("verified s3://images/rt/disk: 8 chunks"), verify.out());

        Path back = tmp.resolve("back.img");
        Run pull = ok("image", "pull", uri("rt/disk"), back.toString());
        assertTrue(pull.out().contains("8 chunks verified"), pull.out());
        assertEquals(-1, Files.mismatch(img, back), "the pulled image differs from the pushed one");
        assertFalse(Files.exists(tmp.resolve("back.img.part")));
        // Holes stay holes, down to a 4 KiB block inside a chunk (chunk 40 holds 1000 bytes: one block, not 1 MiB);
        // the 2 MiB of written zeros became a hole.
        long expected = allocated(img) - 2L * MIB;
        assertTrue(Math.abs(allocated(back) - expected) <= 64 * 1024, "allocated: " + allocated(back) + " bytes, expected ~" + expected);

        // A pull never overwrites: the file exists now.
        Run again = MainTest.bmcast("image", "pull", uri("rt/disk"), back.toString());
        assertEquals(1, again.rc());
        MainTest.assertOneSentence(again.err());
    }

    /**
     * The boot files a manifest names come down with the image: beside it by default, in {@code --boot-files DIR} when
     * given, each checked against the SHA-256 it is named by (a kernel spoiled in the store is refused, and no image is
     * written); the push's closing line and summary name the manifest's digest, the one pull and verify can pin.
     */
    @Test
    void pullWritesTheBootFilesVerifiedBesideTheImage() throws Exception {
        Path img = tmp.resolve("boot.img");
        write(img, 4L * MIB, MIB, random(new Random(21), MIB));
        Path kernel = tmp.resolve("vmlinuz");
        Path initrd = tmp.resolve("initrd.img");
        Files.write(kernel, random(new Random(22), 300_000));
        Files.write(initrd, random(new Random(23), 100_000));
        Run push = ok("image", "push", img.toString(), "--to", uri("boot/img"), "--kernel", kernel.toString(), "--initrd", initrd.toString(),
                "--append", "console=ttyS0 root=/dev/vda", "--json");
        String digest = json(push).get("manifestSha256").asText();
        try (StoreClient c = StoreClient.open(s3.location("images", "boot/img"))) {
            assertEquals(Sha256.hex(c.manifestBytes(s3.location("images", "boot/img"))), digest, "the digest of the manifest object's bytes");
        }
        assertTrue(push.err().strip().endsWith("; manifest sha256 " + digest), push.err());

        Path out = Files.createDirectories(tmp.resolve("pulled")).resolve("disk.raw");
        Run pull = ok("image", "pull", uri("boot/img"), out.toString(), "--manifest-sha256", digest);
        assertEquals(-1, Files.mismatch(img, out));
        assertEquals(-1, Files.mismatch(kernel, tmp.resolve("pulled/disk.raw.kernel")));
        assertEquals(-1, Files.mismatch(initrd, tmp.resolve("pulled/disk.raw.initrd")));
        assertEquals("console=ttyS0 root=/dev/vda\n", Files.readString(tmp.resolve("pulled/disk.raw.append")));
        assertTrue(pull.out().contains("boot files verified: " + out + ".kernel, " + out + ".initrd, " + out + ".append"), pull.out());

        Path elsewhere = tmp.resolve("boot-dir");
        Run json = ok("image", "pull", uri("boot/img"), tmp.resolve("second.raw").toString(), "--boot-files", elsewhere.toString(), "--json");
        assertEquals(3, json(json).get("bootFiles").size());
        assertEquals(-1, Files.mismatch(kernel, elsewhere.resolve("second.raw.kernel")));

        // the kernel object spoiled in the store: refused by its name, and nothing written
        try (StoreClient c = StoreClient.open(s3.location("images", "boot/img"))) {
            StoreLocation at = s3.location("images", "boot/img");
            byte[] k = Files.readAllBytes(kernel);
            k[1000] ^= 1;
            c.put(at.fileKey(Sha256.hex(Files.readAllBytes(kernel))), ByteBuffer.wrap(k), "application/octet-stream");
        }
        Path third = tmp.resolve("third.raw");
        Run spoiled = MainTest.bmcast("image", "pull", uri("boot/img"), third.toString());
        assertEquals(1, spoiled.rc(), spoiled.out());
        assertTrue(spoiled.err().contains("the kernel of s3://images/boot/img in the store does not match the SHA-256 "), spoiled.err());
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(), files.filter(f -> f.getFileName().toString().startsWith("third.raw")).toList());
        }
    }

    /**
     * A block device (a loop device here) pushes like a file: its size from lseek(SEEK_END), every chunk read since a
     * device has no holes to report, chunks of zeros stored as holes; pulled back byte-identical to its backing file.
     */
    @Test
    void aBlockDevicePushesAndPullsBackIdentical() throws Exception {
        assumeTrue(Tools.find("losetup") != null && "root".equals(System.getProperty("user.name")), "needs losetup as root");
        Path backing = tmp.resolve("backing.img");
        long size = 16L * MIB;
        write(backing, size, 3L * MIB, random(new Random(6), 2 * MIB));
        write(backing, size, 15L * MIB, compressible(6, MIB));
        Tools.Result attach = Tools.run(Duration.ofSeconds(30), "losetup", "--find", "--show", backing.toString());
        assumeTrue(attach.exitCode() == 0, "no loop device here: " + attach.stderr());
        Path dev = Path.of(attach.stdout().strip());
        try {
            JsonNode p = json(ok("image", "push", dev.toString(), "--to", uri("dev/loop"), "--json"));
            assertEquals(16, p.get("chunks").asInt());
            assertEquals(3, p.get("dataChunks").asInt(), p.toString()); // 13 chunks of zeros read, stored as holes
        } finally {
            Tools.run(Duration.ofSeconds(30), "losetup", "-d", dev.toString());
        }
        Path back = tmp.resolve("dev-back.img");
        ok("image", "pull", uri("dev/loop"), back.toString());
        assertEquals(-1, Files.mismatch(backing, back));
        assertTrue(allocated(back) <= 3L * MIB + 64 * 1024, "zeros came back as holes: " + allocated(back));
    }

    /** A second image sharing 95 of its 100 chunks with the first uploads those 5 only. */
    @Test
    void aSecondImageSharingMostChunksUploadsOnlyItsOwn() throws Exception {
        int chunk = 64 * 1024;
        Random r = new Random(2);
        Path a = tmp.resolve("a.img");
        byte[] base = random(r, 100 * chunk);
        Files.write(a, base);
        JsonNode first = json(ok("image", "push", a.toString(), "--to", uri("dedup/a"), "--chunk-size", "64K", "--json", "--jobs", "4"));
        assertEquals(100, first.get("uploaded").asInt());
        assertEquals(0, first.get("alreadyStored").asInt());
        for (int k = 0; k < 5; k++) System.arraycopy(random(r, 100), 0, base, (k * 20 + 7) * chunk + 333, 100);
        Path b = tmp.resolve("b.img");
        Files.write(b, base);
        JsonNode second = json(ok("image", "push", b.toString(), "--to", uri("dedup/b"), "--chunk-size", "64K", "--json"));
        assertEquals(5, second.get("uploaded").asInt(), second.toString());
        assertEquals(95, second.get("alreadyStored").asInt());
        assertEquals(0.95, second.get("dedupRatio").asDouble(), 1e-9);
        assertEquals(5L * chunk, second.get("uploadedBytes").asLong());
        // Pushing the same image again uploads nothing.
        assertEquals(0, json(ok("image", "push", b.toString(), "--to", uri("dedup/b"), "--chunk-size", "64K", "--json")).get("uploaded").asInt());
    }

    /**
     * A push killed with SIGKILL half-way leaves no manifest (the image does not exist), and the same push again
     * uploads exactly the chunks the store lacks.
     */
    @Test
    void aPushKilledMidWayLeavesNoManifestAndTheRerunUploadsOnlyWhatIsMissing() throws Exception {
        int chunk = 64 * 1024;
        int count = 1024; // 64 MiB of random 64 KiB chunks, one at a time: seconds of work to interrupt
        Random r = new Random(3);
        byte[] bytes = random(r, count * chunk);
        Path img = tmp.resolve("killed.img");
        Files.write(img, bytes);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < count; i++) names.add(Sha256.hex(ByteBuffer.wrap(bytes, i * chunk, chunk))); // random: stored raw
        StoreLocation where = s3.location("images", "kill/img");
        List<String> cmd = ClientTestProcesses.bmcastCommand("image", "push", img.toString(), "--to", where.toString(),
                "--chunk-size", "64K", "--jobs", "1");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("push.log").toFile());
        pb.environment().putAll(LocalS3.env());
        Process push = pb.start();
        Path chunks = s3.dir().resolve("data").resolve("images").resolve("kill").resolve("chunks");
        try {
            for (int i = 0; i < 1200 && stored(chunks) < 50; i++) {
                if (!push.isAlive()) fail("the push ended before it could be interrupted: " + Files.readString(tmp.resolve("push.log")));
                Thread.sleep(50);
            }
        } finally {
            push.destroyForcibly(); // SIGKILL
            push.waitFor(30, TimeUnit.SECONDS);
        }
        try (StoreClient c = StoreClient.open(where)) {
            assertEquals(-1, c.head(where.manifestKey()), "a manifest after an interrupted push: " + Files.readString(tmp.resolve("push.log")));
            int held = 0;
            for (String n : names) if (c.head(where.chunkKey(n)) == chunk) held++;
            assertTrue(held >= 50 && held < count, "chunks stored before the kill: " + held);
            JsonNode rerun = json(ok("image", "push", img.toString(), "--to", where.toString(), "--chunk-size", "64K", "--json"));
            assertEquals(count - held, rerun.get("uploaded").asInt(), rerun.toString());
            assertEquals(held, rerun.get("alreadyStored").asInt());
            assertTrue(c.head(where.manifestKey()) > 0);
        }
        ok("image", "verify", where.toString());
    }

    private static long stored(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return 0;
        try (var files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    /**
     * A manifest edited by hand: one entry names another chunk of the store (of another size), one names a chunk
     * the store never held. verify names both, by index, offset and name, and exits 1; pull refuses too.
     */
    @Test
    void aHandEditedManifestFailsVerifyNamingEachChunk() throws Exception {
        Path img = tmp.resolve("edited.img");
        long size = 8L * MIB;
        for (int i = 0; i < 8; i++) write(img, size, (long) i * MIB, i % 2 == 0 ? compressible(i, MIB) : random(new Random(i), MIB / (i + 1)));
        StoreLocation where = s3.location("images", "edit/img");
        ok("image", "push", img.toString(), "--to", where.toString());
        try (StoreClient c = StoreClient.open(where)) {
            Manifest m = c.manifest(where);
            assertTrue(m.chunk(2).storedSize() != m.chunk(5).storedSize());
            String missing = Sha256.hex("never pushed".getBytes(StandardCharsets.UTF_8));
            String json = new String(m.toJson(), StandardCharsets.UTF_8)
                    .replace("[\"" + m.chunk(2).sha256(), "[\"" + m.chunk(5).sha256())
                    .replace("[\"" + m.chunk(7).sha256(), "[\"" + missing);
            c.put(where.manifestKey(), ByteBuffer.wrap(json.getBytes(StandardCharsets.UTF_8)), "application/json");

            Run verify = MainTest.bmcast("image", "verify", where.toString());
            assertEquals(1, verify.rc(), verify.out() + verify.err());
            assertOneSentenceAfterProgress(verify.err());
            assertTrue(verify.err().contains("s3://images/edit/img failed verification: 2 of 8 chunks"), verify.err());
            List<String> lines = verify.out().lines().toList();
            assertEquals(2, lines.size(), verify.out());
            assertTrue(lines.get(0).startsWith("chunk 2 at offset " + 2 * MIB + " (" + m.chunk(5).sha256() + ") of s3://images/edit/img is "
                    + m.chunk(5).storedSize() + " bytes in the store, but the manifest says " + m.chunk(2).storedSize()), lines.get(0));
            assertTrue(lines.get(1).startsWith("chunk 7 at offset " + 7 * MIB + " (" + missing + ") of s3://images/edit/img is missing"), lines.get(1));

            Run json1 = MainTest.bmcast("image", "verify", where.toString(), "--json");
            assertEquals(1, json1.rc());
            assertEquals(2, json(json1).get("problems").size());

            Path out = tmp.resolve("edited-back.img");
            Run pull = MainTest.bmcast("image", "pull", where.toString(), out.toString());
            assertEquals(1, pull.rc());
            assertOneSentenceAfterProgress(pull.err());
            assertTrue(pull.err().contains("chunk 2 at offset") || pull.err().contains("chunk 7 at offset"), pull.err());
            assertFalse(Files.exists(out));
            assertFalse(Files.exists(tmp.resolve("edited-back.img.part")));
        }
    }

    /** What goes wrong with the store itself is one sentence and exit 1: no bucket, a dead endpoint, bad input. */
    @Test
    void storeFailuresAreOneSentence() throws Exception {
        Path img = tmp.resolve("small.img");
        write(img, MIB, 0, random(new Random(4), 4096));
        Run noBucket = MainTest.bmcast("image", "push", img.toString(), "--to", s3.location("nobucket", "x").toString());
        assertEquals(1, noBucket.rc());
        MainTest.assertOneSentence(noBucket.err());
        assertTrue(noBucket.err().contains("there is no bucket nobucket at " + s3.endpoint() + ": create it, or push with --create-bucket"), noBucket.err());
        ok("image", "push", img.toString(), "--to", s3.location("fresh-bucket", "x").toString(), "--create-bucket");

        Run dead = MainTest.bmcast("image", "verify", "s3://images/x", "--endpoint", "http://127.0.0.1:9");
        assertEquals(1, dead.rc());
        MainTest.assertOneSentence(dead.err());
        assertTrue(dead.err().startsWith("bmcast: cannot reach bucket images at http://127.0.0.1:9"), dead.err());

        Run noImage = MainTest.bmcast("image", "verify", uri("nope"));
        assertEquals(1, noImage.rc());
        assertTrue(noImage.err().contains("there is no image s3://images/nope"), noImage.err());

        Run badUri = MainTest.bmcast("image", "push", img.toString(), "--to", "s3://Bad/x");
        assertEquals(2, badUri.rc());
        MainTest.assertOneSentence(badUri.err());
        Run badChunk = MainTest.bmcast("image", "push", img.toString(), "--to", uri("x"), "--chunk-size", "100K");
        assertEquals(2, badChunk.rc());
        assertTrue(badChunk.err().contains("power of two"), badChunk.err());
    }

    /**
     * In a process of its own, credentials and endpoint come from the environment the way AWS tools take them:
     * wrong keys are one sentence naming them; AWS_ENDPOINT_URL alone (no ?endpoint=) reaches the server path-style.
     */
    @Test
    void credentialsAndEndpointComeFromTheEnvironment() throws Exception {
        Path img = tmp.resolve("env.img");
        write(img, 2 * MIB, MIB, random(new Random(5), 5000));
        ok("image", "push", img.toString(), "--to", uri("env/img"));

        Map<String, String> wrong = Map.of("AWS_ACCESS_KEY_ID", "somebody", "AWS_SECRET_ACCESS_KEY", "else", "AWS_REGION", "us-east-1");
        ChildRun bad = child(wrong, "image", "verify", uri("env/img"));
        assertEquals(1, bad.rc, bad.err);
        MainTest.assertOneSentence(bad.err);
        assertTrue(bad.err.contains("refused the credentials") && bad.err.contains("AWS_ACCESS_KEY_ID"), bad.err);

        Map<String, String> viaEnv = new java.util.HashMap<>(LocalS3.env());
        viaEnv.put("AWS_ENDPOINT_URL", s3.endpoint().toString());
        ChildRun good = child(viaEnv, "image", "verify", "s3://images/env/img");
        assertEquals(0, good.rc, good.err + good.out);
        assertTrue(good.out.startsWith("verified s3://images/env/img: 1 chunks"), good.out);
    }

    /** A failure during a transfer: progress lines (a slow machine prints one every 5 s), then one sentence. */
    private static void assertOneSentenceAfterProgress(String err) {
        MainTest.assertOneSentence(err.lines().filter(l -> !l.matches("(push|pull|verify): \\d+/\\d+ chunks.*")).reduce("", (a, b) -> a + b + "\n"));
    }

    private record ChildRun(int rc, String out, String err) {}

    private ChildRun child(Map<String, String> env, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ClientTestProcesses.bmcastCommand(args));
        for (String k : List.copyOf(pb.environment().keySet())) if (k.startsWith("AWS_")) pb.environment().remove(k);
        pb.environment().put("HOME", tmp.toString()); // no ~/.aws of the machine's
        pb.environment().putAll(env);
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("bmcast " + Arrays.toString(args) + " did not finish in 120 s");
        }
        return new ChildRun(p.exitValue(), Files.readString(out), Files.readString(err));
    }
}
