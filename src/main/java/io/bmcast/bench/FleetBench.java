package io.bmcast.bench;

import io.bmcast.agent.HollowTimeline;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.transport.NbdUri;
import io.bmcast.util.Jackson;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bmcast bench fleet}: the control plane at scale, and Swift Birth's gain, in one run.
 *
 * <ol>
 * <li>Hollow nodes (kubemark-style, in this JVM) against a real controller on H2 and on PostgreSQL (a private
 *     cluster this benchmark starts): N launched at once, as N concurrent requests and as one {@code --count N}
 *     request; the makespan to all running, its ratio to N = 1, per-launch latency to {@code scheduled} and to
 *     running, and destroy-to-available.
 * <li>The same against the controller in {@code serialized} mode (one launch at a time behind a global lock,
 *     image metadata re-read per launch: the pre-Swift-Birth toolstack), capped in N and time-boxed.
 * <li>A real mini-fleet: three agents running busybox guests that stream from one image server behind an
 *     emulated link; three at once against one alone, the image server's egress, destroy (scrub) to available.
 * </ol>
 *
 * Rounds repeat the whole set, with the order of databases, modes and launch styles alternating from round to
 * round, so that a slow spell on this shared machine does not land on one configuration only. Each (db, mode)
 * of a round gets a fresh controller and database and a fleet of max(N) hollow nodes.
 */
final class FleetBench {
    record Options(List<Integer> sizes, List<String> dbs, List<String> modes, long readyAfterNs, long localAfterNs, int rounds,
            int serializedMax, Duration serializedTimeBox, Duration timeBox, boolean real, int realMachines, long realDiskBytes,
            long rate, long latencyNs, Path out) {}

    private final Options o;
    private final Path work;
    private final List<LaunchSample> samples = new ArrayList<>();
    private final List<RealSample> real = new ArrayList<>();
    private final Map<String, String> skippedDbs = new LinkedHashMap<>();
    private final List<String> failures = new ArrayList<>();

    private FleetBench(Options o, Path work) {
        this.o = o;
        this.work = work;
    }

    /**
     * The controller, its libraries, the image servers and the agents log at INFO; here only the progress lines
     * and warnings belong. Held because java.util.logging keeps loggers weakly.
     */
    private static final java.util.logging.Logger[] QUIETED = {java.util.logging.Logger.getLogger("org.eclipse.jetty"),
            java.util.logging.Logger.getLogger("io.javalin"), java.util.logging.Logger.getLogger("org.flywaydb"),
            java.util.logging.Logger.getLogger("com.zaxxer.hikari"), java.util.logging.Logger.getLogger("io.bmcast")};

    static int run(Options o) throws Exception {
        System.setProperty("java.awt.headless", "true");
        for (var l : QUIETED) l.setLevel(java.util.logging.Level.WARNING);
        Files.createDirectories(o.out());
        Path work = Files.createTempDirectory("bmcast-fleet-");
        try {
            return new FleetBench(o, work).runAll();
        } finally {
            BenchImageServer.removeTree(work, "fleet");
        }
    }

    private int runAll() throws Exception {
        String realNote = null;
        PrivatePostgres pg = null;
        if (o.dbs().contains("postgres")) {
            Path bin = PrivatePostgres.installed().orElse(null);
            if (bin == null) {
                skippedDbs.put("postgres", "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)");
                say("postgres: not installed here (no /usr/lib/postgresql/*/bin/initdb): skipping that db");
            } else {
                say("postgres: starting a private cluster (" + bin + ")");
                pg = PrivatePostgres.start(bin);
            }
        }
        Path imageFile = hollowImage(work.resolve("hollow.img"));
        try (NbdServer images = new NbdServer(Map.<String, Export>of(HollowRun.IMAGE, new FileExport(HollowRun.IMAGE, "hollow image", imageFile, true)))) {
            Listener l = Listener.unix(work.resolve("hollow.sock"));
            images.start(l);
            String uri = NbdUri.unix(l.socketPath(), HollowRun.IMAGE).toString();
            for (int round = 1; round <= o.rounds(); round++) {
                List<String> dbs = alternate(o.dbs(), round);
                for (String db : dbs) {
                    if (skippedDbs.containsKey(db)) continue;
                    for (String mode : alternate(o.modes(), round)) hollow(db, mode, round, pg, uri);
                }
            }
        } finally {
            if (pg != null) pg.close();
        }
        if (o.real()) {
            try {
                realFleet();
            } catch (IOException | RuntimeException e) {
                realNote = "(failed: " + e.getMessage() + ")";
                failures.add("real mini-fleet: " + e.getMessage());
                say("real mini-fleet failed: " + e.getMessage());
            }
        } else {
            realNote = "(not run: --no-real)";
        }
        if (o.real() && realNote == null) {
            realNote = String.format(Locale.ROOT, "(%d agents, %s sparse disks, link %s + %s)", o.realMachines(),
                    Units.formatSize(o.realDiskBytes()), Units.formatRate(o.rate()), StartupBench.formatLatency(o.latencyNs()));
        }
        return report(realNote);
    }

    private void hollow(String db, String mode, int round, PrivatePostgres pg, String imageUri) throws Exception {
        boolean serialized = mode.equals("serialized");
        List<Integer> sizes = o.sizes().stream().filter(n -> !serialized || n <= o.serializedMax()).toList();
        if (sizes.isEmpty()) return;
        int nodes = sizes.stream().mapToInt(Integer::intValue).max().orElseThrow();
        Duration box = serialized ? o.serializedTimeBox() : o.timeBox();
        String tag = String.format(Locale.ROOT, "[%s %s, round %d/%d]", db, mode, round, o.rounds());
        say(tag + " controller and " + nodes + " hollow nodes starting");
        Path dir = work.resolve("controller-" + db + "-" + mode + "-" + round);
        String jdbc = db.equals("postgres") ? pg.newDatabase() : null;
        HollowTimeline timeline = new HollowTimeline(o.readyAfterNs(), o.localAfterNs());
        long t0 = System.nanoTime();
        try (HollowRun run = HollowRun.start(db, jdbc, serialized, nodes, timeline, dir, imageUri, box.plusSeconds(30),
                line -> say(tag + "   ... " + line))) {
            say(String.format(Locale.ROOT, "%s %d hollow nodes available after %.1f s", tag, nodes, (System.nanoTime() - t0) / 1e9));
            for (int n : sizes) {
                List<Boolean> styles = n == 1 ? List.of(false) : alternate(List.of(false, true), round);
                for (boolean oneRequest : styles) {
                    LaunchSample s = run.launch(n, oneRequest, round, box);
                    samples.add(s);
                    if (!s.finished()) {
                        say(String.format(Locale.ROOT, "%s N=%d as %s: not all running within %d s (time box): larger N skipped this round",
                                tag, n, label(s), box.toSeconds()));
                        return;
                    }
                    say(String.format(Locale.ROOT, "%s N=%d as %s: all running in %.2f s (p99: scheduled %.0f ms, taken %.2f s, "
                            + "running %.2f s), destroy to available %.2f s", tag, n, label(s), s.runningS(), s.scheduledP99() * 1000,
                            s.takenP99(), s.runningP99(), s.destroyS()));
                }
            }
        } finally {
            BenchImageServer.removeTree(dir, "fleet");
        }
    }

    private static String label(LaunchSample s) {
        return s.style().equals("count") ? "one --count request" : s.n() + " request" + (s.n() == 1 ? "" : "s");
    }

    private void realFleet() throws Exception {
        GuestBuilder builder = new GuestBuilder(GuestKind.BUSYBOX, 0);
        say("real: busybox guest in " + builder.defaultDir() + " (building if needed)");
        GuestImage guest = builder.build(builder.defaultDir(), step -> say("real: guest: " + step));
        LinkEmulator link = new LinkEmulator(TokenBucket.withDefaultBurst(o.rate()), o.latencyNs());
        Path dir = Files.createDirectories(work.resolve("real"));
        say("real: image server (link " + link + "), controller (h2) and " + o.realMachines() + " agents starting");
        try (RealFleet fleet = RealFleet.start(guest, link, o.realDiskBytes(), o.realMachines(), dir)) {
            for (int round = 1; round <= o.rounds(); round++) {
                for (int k : alternate(List.of(1, o.realMachines()), round)) {
                    RealSample s = fleet.launch(k, round, Duration.ofMinutes(5));
                    real.add(s);
                    say(String.format(Locale.ROOT, "[real, round %d/%d] %d at once: running %.2f s, devirtualized %.2f s, egress %s at %s, "
                            + "destroy to available %.2f s (scrub %.2f s)", round, o.rounds(), k, s.runningS(), s.devirtualizedS(),
                            Units.formatSize(s.egressBytes()), Units.formatRate(s.egressRate()), s.destroyS(), s.scrubS()));
                }
            }
        }
    }

    private int report(String realNote) throws IOException {
        FleetTable.Plan plan = new FleetTable.Plan(o.dbs(), o.modes(), o.sizes(), o.serializedMax(), o.readyAfterNs() / 1e9, skippedDbs);
        FleetTable table = new FleetTable(plan, samples, real, realNote);
        String header = String.format(Locale.ROOT, "bench fleet: %d round(s), %d cores, hollow timeline ready-after %s s / local-after %s s, "
                + "serialized capped at N <= %d and time-boxed at %d s", o.rounds(), Runtime.getRuntime().availableProcessors(),
                FleetTable.trim(o.readyAfterNs() / 1e9), FleetTable.trim(o.localAfterNs() / 1e9), o.serializedMax(), o.serializedTimeBox().toSeconds());
        String text = header + "\n\n" + table.format();
        System.out.print(text);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("rounds", o.rounds());
        doc.put("cores", Runtime.getRuntime().availableProcessors());
        doc.put("sizes", o.sizes());
        doc.put("dbs", o.dbs());
        doc.put("modes", o.modes());
        doc.put("readyAfterSeconds", o.readyAfterNs() / 1e9);
        doc.put("localAfterSeconds", o.localAfterNs() / 1e9);
        doc.put("serializedMax", o.serializedMax());
        doc.put("serializedTimeBoxSeconds", o.serializedTimeBox().toSeconds());
        doc.put("linkBytesPerSec", o.rate());
        doc.put("latencyNs", o.latencyNs());
        if (!skippedDbs.isEmpty()) doc.put("skippedDbs", skippedDbs);
        doc.putAll(table.toJson());
        if (!failures.isEmpty()) doc.put("failures", failures);
        Path json = o.out().resolve("results.json");
        Files.writeString(json, Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(doc) + "\n");
        Files.writeString(o.out().resolve("table.txt"), text);
        Path png = o.out().resolve("fleet.png");
        BarChart.write(chart(table, header), png);
        System.out.println("results: " + json.toAbsolutePath() + "\nchart:   " + png.toAbsolutePath());
        return failures.isEmpty() ? 0 : 1;
    }

    static BarChart.Chart chart(FleetTable t, String subtitle) {
        List<BarChart.Group> groups = new ArrayList<>();
        for (FleetTable.Row r : t.rows()) {
            if (!r.style().equals("requests") || r.notRun() != null) continue;
            FleetTable.Stat run = r.running();
            boolean timedOut = Double.isInfinite(run.median());
            String label = (r.db().equals("postgres") ? "pg" : r.db()) + (r.mode().equals("serialized") ? " ser " : " ") + "x" + r.n();
            groups.add(new BarChart.Group(label, List.of(new BarChart.Bar(timedOut ? r.timeBox() : run.median(), timedOut),
                    new BarChart.Bar(r.of(LaunchSample::destroyS).median(), false))));
        }
        for (int k : new int[] {1, 3}) {
            FleetTable.Stat run = t.realStat(k, RealSample::devirtualizedS);
            if (!run.present()) continue;
            groups.add(new BarChart.Group("real x" + k, List.of(new BarChart.Bar(run.median(), false),
                    new BarChart.Bar(t.realStat(k, RealSample::destroyS).median(), false))));
        }
        return new BarChart.Chart("Fleet launch and destroy: N at once (hollow nodes; real busybox guests)",
                subtitle.replace("bench fleet: ", ""), List.of("launch to all running (real: devirtualized)", "destroy to all available"),
                groups, "seconds, median of the rounds (log scale; hatched: ran out of its time box)");
    }

    /** {@code items} in order in odd rounds, reversed in even ones. */
    static <T> List<T> alternate(List<T> items, int round) {
        if (round % 2 == 1) return items;
        List<T> r = new ArrayList<>(items);
        java.util.Collections.reverse(r);
        return r;
    }

    /** A 64 MiB image with 8 MiB of data: small, so that adding it (and re-reading it when serialized) is quick. */
    static Path hollowImage(Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(64L << 20);
            byte[] mib = new byte[1 << 20];
            java.util.Arrays.fill(mib, (byte) 0x5a);
            for (int i = 0; i < 8; i++) {
                f.seek((long) i * (8 << 20));
                f.write(mib);
            }
        }
        return file;
    }

    static void say(String line) {
        System.err.println("fleet: " + line);
    }
}
