package io.bmcast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.util.Jackson;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.Units;
import io.bmcast.util.UsageException;
import java.io.IOException;
import java.io.InputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bmcast bench nbd}: fio's {@code nbd} engine against our server, {@code nbdkit file} and
 * {@code qemu-nbd}, one after another, on the same page-cached file over a Unix socket. Prints one row
 * per workload with each server's figure and our ratio to each peer, each server's CPU time per unit of work
 * (what a busy neighbour moves far less than throughput), and the peak RSS of every server.
 * A benchmark, not a test: figures on a shared machine are noisy, so with {@code --repeat N} the servers take
 * turns N times and the table shows medians with min-max ({@link NbdTable}); every sample goes to
 * {@code results.json}.
 */
@Command(name = "bench", description = "Benchmarks against named peers: nbd servers, instance startup, the fleet control plane.",
        subcommands = {BenchCommand.Nbd.class, StartupCommand.class, FleetCommand.class, WorkloadCommand.class, FanoutCommand.class})
public final class BenchCommand implements Callable<Integer> {

    /** One fio workload. */
    record Workload(String label, String rw, String bs, int iodepth, boolean write, boolean iops) {}

    static final List<Workload> WORKLOADS = List.of(
            new Workload("seq read 1 MiB QD8", "read", "1M", 8, false, false),
            new Workload("seq write 1 MiB QD8", "write", "1M", 8, true, false),
            new Workload("rand read 4 KiB QD32", "randread", "4k", 32, false, true));

    /** A server under test: how to start it on a socket over the file. */
    record Peer(String name, List<String> command) {}

    record Result(double value, long peakRssKb) {}

    @Command(name = "nbd", sortOptions = false,
            description = "fio's nbd engine against bmcast, nbdkit and qemu-nbd on one page-cached file.")
    static final class Nbd implements Callable<Integer> {
        @Option(names = "--size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "1G",
                description = "Size of the test file (default ${DEFAULT-VALUE}).")
        long size;

        @Option(names = "--runtime", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "10s",
                description = "Run time of each workload (default ${DEFAULT-VALUE}).")
        java.time.Duration runtime;

        @Option(names = "--dir", paramLabel = "DIR", description = "Where to write the test file (default: a temporary directory).")
        Path dir;

        @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
                description = "Runs per server, interleaved (bmcast, nbdkit, qemu-nbd, bmcast, ...); the table shows "
                        + "medians with min-max (default ${DEFAULT-VALUE}).")
        int repeat;

        @Option(names = "--out", paramLabel = "DIR", description = "Where the table and results.json go (default bench-results/nbd-TIME).")
        Path out;

        @Option(names = "--tls", description = "Every server requires TLS 1.3 (certificates made with openssl) and fio connects over nbds+unix://.")
        boolean tls;

        @Override
        public Integer call() throws Exception {
            Path o = out != null ? out : Path.of("bench-results",
                    "nbd-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
            Path pki = tls ? Files.createTempDirectory("bmcast-bench-pki") : null;
            try {
                tlsDir = tls ? BenchCerts.make(pki) : null;
                return nbd(size, runtime.toNanos(), dir, repeat, o);
            } finally {
                if (pki != null) BenchCerts.delete(pki);
            }
        }
    }

    @Override
    public Integer call() {
        throw new UsageException("bench needs a benchmark: nbd, startup, fleet or workload");
    }

    /** With {@code bench nbd --tls}: the certificates every peer serves with and fio trusts; null for plaintext. */
    static Path tlsDir;

    /** What {@code peer} needs on its command line to require TLS (empty for plaintext). */
    static List<String> tlsArgs(String peer) {
        if (tlsDir == null) return List.of();
        return switch (peer) {
            case "bmcast" -> List.of("--tls-dir", tlsDir.toString());
            case "nbdkit" -> List.of("--tls=require", "--tls-certificates=" + tlsDir);
            default -> List.of("--object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=off,dir=" + tlsDir, "--tls-creds=tls0");
        };
    }

    static int nbd(long size, long runtimeNs, Path dir, int repeat, Path out) throws Exception {
        if (size < (16 << 20)) throw new UsageException("--size must be at least 16M");
        if (repeat < 1) throw new UsageException("--repeat must be 1 or more");
        long runtimeS = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(runtimeNs));
        for (String tool : List.of("fio", "nbdkit", "qemu-nbd")) {
            if (which(tool) == null) throw new IllegalStateException("bench nbd needs '" + tool + "' on PATH");
        }
        boolean ownDir = dir == null;
        Path work = ownDir ? Files.createTempDirectory("bmcast-bench") : Files.createDirectories(dir);
        Path file = work.resolve("bench.img");
        Path sock = work.resolve("nbd.sock");
        List<Peer> peers = List.of(
                new Peer("bmcast", ourServer(file, sock)),
                new Peer("nbdkit", concat(List.of("nbdkit", "--foreground", "--unix", sock.toString()), tlsArgs("nbdkit"),
                        List.of("file", "file=" + file))),
                new Peer("qemu-nbd", concat(List.of("qemu-nbd", "--persistent", "--format=raw", "--socket=" + sock,
                        "--cache=writeback", "--aio=threads", "--export-name="), tlsArgs("qemu-nbd"), List.of(file.toString()))));
        try {
            Files.createDirectories(out);
            System.err.printf(Locale.ROOT, "bench: writing %s test file %s%n", Units.formatSize(size), file);
            makeFile(file, size);
            String fioVersion = output(List.of("fio", "--version")).trim();
            NbdTable table = new NbdTable(WORKLOADS, peers.stream().map(Peer::name).toList(), repeat);
            List<String> order = new ArrayList<>();
            for (Spread.Slot<Peer> slot : Spread.interleave(peers, repeat)) {
                Peer peer = slot.mode();
                int p = peers.indexOf(peer);
                order.add(peer.name() + "#" + slot.run());
                warm(file);
                System.err.printf(Locale.ROOT, "bench: run %d/%d: starting %s%n", slot.run(), repeat, peer.name());
                Process server = new ProcessBuilder(peer.command())
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(work.resolve(peer.name() + ".log").toFile()).start();
                try {
                    waitForSocket(sock, server);
                    // Every server gets the same unmeasured pass first: what is measured is a warm server (for
                    // ours: code the JIT has compiled; in a 10 s run here C2 compiling took a good part of a core).
                    long warmS = warmUpSeconds(runtimeS);
                    if (warmS > 0) {
                        System.err.printf(Locale.ROOT, "bench: run %d/%d: warming %s up, %d s per workload (not measured)%n",
                                slot.run(), repeat, peer.name(), warmS);
                        for (Workload wl : WORKLOADS) fio(wl, sock, size, warmS);
                    }
                    for (int w = 0; w < WORKLOADS.size(); w++) {
                        Workload wl = WORKLOADS.get(w);
                        try {
                            long cpu0 = cpuTicks(server.pid());
                            long t0 = System.nanoTime();
                            double v = fio(wl, sock, size, runtimeS);
                            double wallS = (System.nanoTime() - t0) / 1e9;
                            long cpu1 = cpuTicks(server.pid());
                            table.add(w, p, slot.run(), v);
                            if (cpu0 >= 0 && cpu1 >= cpu0) table.addCpu(w, p, slot.run(), (cpu1 - cpu0) / USER_HZ / wallS);
                            System.err.printf(Locale.ROOT, "bench: run %d/%d: %-8s %-22s %s%n", slot.run(), repeat,
                                    peer.name(), wl.label(), format(wl, v));
                        } catch (IOException e) {
                            System.err.printf(Locale.ROOT, "bench: run %d/%d: %-8s %-22s failed: %s%n", slot.run(), repeat,
                                    peer.name(), wl.label(), e.getMessage());
                        }
                    }
                    table.peakRss(p, peakRssKb(server.pid()));
                } finally {
                    stop(server);
                    Files.deleteIfExists(sock);
                }
            }
            String header = String.format(Locale.ROOT,
                    "%s, ioengine=nbd over a Unix socket%s, %s file in the page cache, %d s per run, %d run%s per server%n",
                    fioVersion, tlsDir != null ? " with TLS 1.3 (every server)" : "", Units.formatSize(size), runtimeS, repeat, repeat == 1 ? "" : "s");
            String text = header + table.format();
            System.out.print(text);
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("fio", fioVersion);
            doc.put("fileBytes", size);
            doc.put("runtimeSeconds", runtimeS);
            doc.put("repeat", repeat);
            doc.put("tls", tlsDir != null);
            doc.put("order", order);
            doc.put("workloads", table.toJson());
            doc.put("peakRssKb", table.peakRssJson());
            Path json = out.resolve("results.json");
            Files.writeString(json, Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(doc) + "\n");
            Files.writeString(out.resolve("table.txt"), text);
            System.out.println("results: " + json.toAbsolutePath());
            return table.complete() ? 0 : 1;
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(sock);
            if (ownDir) {
                for (Peer p : peers) Files.deleteIfExists(work.resolve(p.name() + ".log"));
                Files.deleteIfExists(work);
            }
        }
    }

    /** This very launcher's JVM and jar, serving the file read-write as a separate process. */
    private static List<String> ourServer(Path file, Path sock) {
        String java = ProcessHandle.current().info().command().orElse("java");
        return concat(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), "io.bmcast.cli.Main",
                "serve-file", file.toString(), "--socket", sock.toString(), "--writable"), tlsArgs("bmcast"));
    }

    @SafeVarargs
    private static List<String> concat(List<String>... parts) {
        List<String> all = new ArrayList<>();
        for (List<String> p : parts) all.addAll(p);
        return all;
    }

    /** Incompressible data, so no server can take a short cut on zeros. */
    static void makeFile(Path file, long size) throws IOException {
        SplittableRandom rnd = new SplittableRandom(42);
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long pos = 0;
            while (pos < size) {
                block.clear();
                while (block.remaining() >= 8) block.putLong(rnd.nextLong());
                block.flip().limit((int) Math.min(block.limit(), size - pos));
                while (block.hasRemaining()) pos += ch.write(block, pos);
            }
        }
    }

    /** Reads the whole file so every server starts with it in the page cache. */
    static void warm(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(4 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long pos = 0;
            int n;
            while ((n = ch.read(b.clear(), pos)) > 0) pos += n;
        }
    }

    private static void waitForSocket(Path sock, Process server) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) throw new IOException("server exited with " + server.exitValue() + " before listening");
            if (Files.exists(sock)) {
                try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
                    return;
                } catch (IOException e) {
                    // not listening yet
                }
            }
            Thread.sleep(50);
        }
        throw new IOException("server did not listen on " + sock + " within 30 s");
    }

    /** The warm-up per workload: a fifth of the measured run time; none for runs under 5 s (the suite's). */
    static long warmUpSeconds(long runtimeS) {
        return runtimeS >= 5 ? runtimeS / 5 : 0;
    }

    /** Runs one fio job; returns bytes/s (throughput rows) or IOPS. */
    static double fio(Workload wl, Path sock, long size, long runtimeS) throws IOException, InterruptedException {
        // A short run gets no ramp, so that the suite's tiny runs stay short.
        long ramp = runtimeS >= 4 ? 2 : 0;
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=" + wl.rw(), "--ioengine=nbd",
                (tlsDir == null ? "--uri=nbd+unix:///?socket=" : "--uri=nbds+unix:///?socket=") + sock, "--rw=" + wl.rw(), "--bs=" + wl.bs(),
                "--iodepth=" + wl.iodepth(), "--size=" + size, "--time_based", "--ramp_time=" + ramp,
                "--runtime=" + runtimeS, "--output-format=json"));
        // fio's engine refuses tls-certificates= in the URI; libnbd's default is $HOME/.pki/libnbd.
        String text = output(cmd, tlsDir == null ? Map.of() : Map.of("HOME", BenchCerts.libnbdHome(tlsDir).toString()));
        int start = text.indexOf('{'); // fio may print notes before its JSON
        if (start < 0) throw new IOException("fio printed no JSON:\n" + text);
        JsonNode job = Jackson.MAPPER.readTree(text.substring(start)).path("jobs").path(0)
                .path(wl.write() ? "write" : "read");
        JsonNode figure = job.path(wl.iops() ? "iops" : "bw_bytes");
        if (!figure.isNumber()) throw new IOException("no " + (wl.write() ? "write" : "read") + " figure in fio's output");
        return figure.asDouble();
    }

    static String format(Workload wl, double v) {
        return wl.iops() ? String.format(Locale.ROOT, "%.1fk IOPS", v / 1000)
                : String.format(Locale.ROOT, "%.2f GB/s", v / 1e9);
    }

    /** The unit of /proc/PID/stat's times: fixed at 100 by the kernel's user ABI, whatever HZ it runs at. */
    private static final double USER_HZ = 100;

    /** User plus system CPU time of a process and all its threads, in clock ticks, or -1. */
    static long cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime: fields 14 and 15
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** VmHWM of a process in KiB, or -1. */
    static long peakRssKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (IOException | NumberFormatException e) {
            // gone
        }
        return -1;
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static String output(List<String> cmd) throws IOException, InterruptedException {
        return output(cmd, java.util.Map.of());
    }

    private static String output(List<String> cmd, java.util.Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(cmd.get(0) + " timed out");
        }
        if (p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " exited with " + p.exitValue() + ":\n" + out);
        return out;
    }

    /** The executable {@code tool} on PATH, or null. */
    static Path which(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
