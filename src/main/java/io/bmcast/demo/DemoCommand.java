package io.bmcast.demo;

import io.bmcast.agent.Agent;
import io.bmcast.agent.Machine;
import io.bmcast.agent.Peering;
import io.bmcast.imagestore.LocalS3;
import io.bmcast.imagestore.Manifest;
import io.bmcast.imagestore.Pusher;
import io.bmcast.imagestore.StoreClient;
import io.bmcast.imagestore.StoreLocation;
import io.bmcast.imagestore.TransferProgress;
import java.net.InetSocketAddress;
import io.bmcast.fleet.ApiClient;
import io.bmcast.controller.Controller;
import io.bmcast.controller.ControllerCommand;
import io.bmcast.controller.ControllerConfig;
import io.bmcast.fleet.Api;
import io.bmcast.guest.GuestBuilder;
import io.bmcast.guest.GuestImage;
import io.bmcast.guest.GuestKind;
import io.bmcast.imageserver.ImageServer;
import io.bmcast.storage.Extents;
import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.storage.TokenBucket;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import io.bmcast.util.UnitConverters.DurationConverter;
import io.bmcast.util.UnitConverters.RateConverter;
import io.bmcast.util.UnitConverters.SizeConverter;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bmcast demo}: the fleet story on one machine with embedded defaults. Builds the busybox sample guest
 * (once), serves its 32 GiB image from an in-process image server behind an emulated link, starts a controller
 * (embedded H2) and a few agents standing for machines, launches an instance on each at once, follows them as
 * they stream, reads each guest's own check of its data from its console, waits until every disk is local and
 * de-virtualized, destroys them all (power off, scrub, verify), then prints the timeline, what a full copy
 * would have cost, and the dashboard's login link.
 */
@Command(name = "demo", sortOptions = false,
        description = "The fleet story on this machine: image server, controller, agents; a few instances launched "
                + "at once stream, are checked, de-virtualize, and are destroyed and scrubbed.")
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--count", paramLabel = "N", defaultValue = "3", description = "Agents (machines) and instances (default ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--rate", paramLabel = "RATE", converter = RateConverter.class, defaultValue = "1Gbit",
            description = "Rate of the emulated link to the image server, shared by all instances (default ${DEFAULT-VALUE}).")
    long rate;

    @Option(names = "--latency", paramLabel = "DURATION", converter = DurationConverter.class, defaultValue = "200us",
            description = "One-way latency of that link (default ${DEFAULT-VALUE}).")
    Duration latency;

    @Option(names = "--app-data", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "1G",
            description = "Application data in the image that the boot never reads (default ${DEFAULT-VALUE}).")
    long appData;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:8080", converter = ControllerCommand.ListenConverter.class,
            description = "The controller's address (default ${DEFAULT-VALUE}; any free port when that one is taken).")
    ControllerCommand.Listen listen;

    @Option(names = "--store", paramLabel = "KIND", defaultValue = "none",
            description = "Where the image comes from: none (an image server over NBD, default) or s3 (push it to a local S3 "
                    + "server (S3Proxy) this demo starts, launch one instance from the store, then the rest from its peers).")
    String store;

    @Option(names = "--keep", description = "Leave the controller, agents and image server running afterwards (Ctrl-C ends them).")
    boolean keep;

    private static final Duration STEP = Duration.ofMinutes(5);
    /** Held: java.util.logging forgets the level of a logger nobody references. */
    private static final java.util.logging.Logger CONNECTION_LOG = java.util.logging.Logger.getLogger("io.bmcast.transport");

    @Override
    public Integer call() throws Exception {
        if (count < 1 || count > 16) throw new io.bmcast.util.UsageException("--count must be between 1 and 16");
        PrintStream out = System.out;
        out.printf("demo: building the busybox sample guest (cached after the first run)...%n");
        GuestBuilder builder = new GuestBuilder(GuestKind.BUSYBOX, appData);
        GuestImage guest = builder.build(builder.defaultDir(), step -> out.println("demo: guest: " + step));
        long allocated;
        try (FileExport f = FileExport.open(guest.disk(), true)) {
            allocated = Extents.dataBytes(f);
        }
        out.printf("demo: image: %s, %s allocated (%s of it application data the boot never reads)%n",
                Units.formatSize(guest.diskSize()), Units.formatSize(allocated), Units.formatSize(appData));

        // Before the agents join and anything is launched: a first probe on this host boot may take seconds, and
        // the agents only read the answer then (see Accel).
        io.bmcast.vmm.Accel.detect(guest.kernel());
        Path work = Files.createTempDirectory("bmcast-demo-");
        boolean fromStore = switch (store) {
            case "none" -> false;
            case "s3" -> true;
            default -> throw new io.bmcast.util.UsageException("--store must be none or s3, not '" + store + "'");
        };
        if (fromStore && count < 2) throw new io.bmcast.util.UsageException("--store s3 needs --count 2 or more: one streams from the store, the rest from peers");
        LinkEmulator link = new LinkEmulator(TokenBucket.withDefaultBurst(rate), latency.toNanos());
        List<Agent> agents = new ArrayList<>();
        List<Peering> peerings = new ArrayList<>();
        Controller controller = null;
        LocalS3 s3 = null;
        try (FileExport image = new FileExport("busybox", "busybox sample guest", guest.disk(), true);
             NbdServer server = new NbdServer(Map.<String, Export>of("busybox", ImageServer.wrap(image, link)))) {
            String uri;
            if (fromStore) {
                s3 = LocalS3.start(Files.createDirectories(work.resolve("store")));
                LocalS3.useLocalCredentials(); // the controller and the agents here, and the instances they start
                StoreLocation where = s3.location("bmcast-demo", "images/busybox");
                out.printf("demo: object store: S3Proxy at %s (a real S3 server, filesystem backend under %s)%n", s3.endpoint(), s3.dir());
                out.printf("demo: pushing the image to %s: 1 MiB chunks named by their SHA-256, holes skipped, zstd where it pays...%n", where.display());
                Pusher.Summary pushed;
                try (StoreClient c = StoreClient.open(where)) {
                    c.ensureBucket();
                    pushed = new Pusher(c, where).push(new Pusher.Options(guest.disk(), Manifest.DEFAULT_CHUNK, guest.kernel(), guest.initrd(),
                            guest.append() + " " + SelfCheck.KERNEL_FLAG, null, 8), new TransferProgress("push", "uploaded"));
                }
                out.printf(Locale.ROOT, "demo: pushed in %.1f s: %d chunks of data (%s) stored as %s, manifest written last%n",
                        pushed.nanos() / 1e9, pushed.dataChunks(), Units.formatSize(pushed.dataBytes()), Units.formatSize(pushed.storedBytes()));
                uri = where.toString();
            } else {
                // TCP on loopback, as an image server across the data-centre network would be reached.
                Listener listener = Listener.tcp("127.0.0.1", 0);
                server.start(listener);
                uri = listener.uri("busybox");
                out.printf("demo: image server %s behind an emulated %s link, %s latency%n", uri, Units.formatRate(rate),
                        latency.toNanos() < 1_000_000 ? latency.toNanos() / 1000 + " us" : latency.toMillis() + " ms");
            }

            ControllerCommand.quietLibraries();
            CONNECTION_LOG.setLevel(java.util.logging.Level.WARNING); // one line per NBD connection: noise here
            controller = startController(work.resolve("controller"));
            out.printf("demo: controller %s (state in an embedded H2 database under %s)%n", controller.url(), work.resolve("controller"));
            out.printf("demo: dashboard, to watch it live: %s%n", controller.loginUrl());
            ApiClient api = new ApiClient(URI.create(controller.url() + "/"), controller.adminToken());

            var http = io.bmcast.agent.ControllerClient.sharedHttp();
            for (int i = 1; i <= count; i++) {
                Machine.Config config = new Machine.Config(work.resolve("agents/node-" + i), null, guest.diskSize(), 512L << 20,
                        Duration.ofSeconds(10), List.of());
                Agent agent = new Agent("node-" + i, config,
                        new io.bmcast.agent.ControllerClient(URI.create(controller.url()), controller.joinToken(), http));
                if (fromStore) {
                    // Each machine's chunk cache, served to its peers on loopback (a real fleet listens on its network).
                    Peering p = Peering.open(work.resolve("agents/node-" + i), 1L << 30, new InetSocketAddress("127.0.0.1", 0), null, null, null, 0);
                    peerings.add(p);
                    agent.peering(p);
                }
                agents.add(agent.start());
            }
            awaitNodes(api, count);
            out.printf("demo: %d agents joined, one per machine, each with a %s sparse disk: %s%n", count,
                    Units.formatSize(guest.diskSize()), String.join(", ", agents.stream().map(Agent::name).toList()));

            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("name", "busybox");
            fields.put("uri", uri);
            Api.Image added;
            if (fromStore) {
                // Kernel, initrd and command line come from the manifest; the controller checks every chunk first.
                added = api.postMultipart("api/v1/images", fields, Map.of(), ApiClient.IMAGE);
                out.printf("demo: image %s added from the store: the controller verified every chunk and took size, extents and boot files from the manifest%n", added.name());
            } else {
                fields.put("append", guest.append() + " " + SelfCheck.KERNEL_FLAG);
                added = api.postMultipart("api/v1/images", fields, Map.of("kernel", guest.kernel(), "initrd", guest.initrd()), ApiClient.IMAGE);
                out.printf("demo: image %s added: the controller read its size and extent map once and caches them%n", added.name());
            }

            FleetRun run = new FleetRun(api, out, guest.readyMarker());
            try {
                if (fromStore) {
                    out.printf("demo: first wave: one instance streams from the store; its node keeps every verified chunk in its cache and records the boot profile%n");
                    run.launch("busybox", 1);
                    run.awaitAll("devirtualized", STEP);
                    out.printf("demo: second wave: %d more, told by the controller which peers hold the image%n", count - 1);
                    run.launch("busybox", count - 1);
                    run.awaitAll("devirtualized", STEP);
                } else {
                    run.launch("busybox", count);
                    run.awaitAll("devirtualized", STEP);
                }
                run.destroyAll(STEP);
            } catch (IOException | RuntimeException e) {
                // Never leave guests running behind a failed demo: destroy (and scrub) whatever is still there.
                out.println("demo: " + e.getMessage() + "; destroying what was launched...");
                run.destroyEverything(Duration.ofMinutes(2));
                throw e;
            }
            run.printTimeline(guest.diskSize(), allocated, fromStore ? 0 : rate);
            if (fromStore) run.printSources();
            if (!keep) out.printf("%n`./bmcast demo --keep` leaves the fleet running afterwards, to look around in the dashboard.%n");
            if (keep) {
                out.printf("%ndashboard: %s%n", controller.loginUrl());
                out.println("demo: --keep: the controller, the agents and the image server keep running; launch more from"
                        + " the dashboard or with `BMCAST_CONTROLLER=" + controller.url() + " BMCAST_TOKEN=$(cat "
                        + work.resolve("controller/admin.token") + ") ./bmcast launch --image busybox`. Ctrl-C ends it.");
                CountDownLatch interrupted = new CountDownLatch(1);
                io.bmcast.util.Signals.onTerminate(interrupted::countDown);
                interrupted.await();
                out.println("demo: destroying what is left...");
                run.destroyEverything(Duration.ofMinutes(2));
            }
            return run.allChecked() ? 0 : 1;
        } finally {
            for (Agent a : agents) {
                try {
                    a.close();
                } catch (IOException e) {
                    out.println("demo: stopping agent " + a.name() + ": " + e.getMessage());
                }
            }
            for (Peering p : peerings) p.close();
            if (controller != null) controller.close();
            if (s3 != null) s3.close();
            deleteTree(work);
        }
    }

    private Controller startController(Path data) throws IOException {
        String host = listen.host();
        int port = listen.port();
        ControllerConfig config = ControllerConfig.defaults(data).withListen(host, port);
        try {
            return Controller.start(config);
        } catch (IOException e) {
            if (port == 0) throw e;
            // A person's machine may already use 8080: the demo is about bmcast, not about that port.
            return Controller.start(config.withListen(host, 0));
        }
    }

    private static void awaitNodes(ApiClient api, int count) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (true) {
            List<Api.Node> nodes = api.get("api/v1/nodes", ApiClient.NODES);
            if (nodes.stream().filter(n -> "available".equals(n.state())).count() >= count) return;
            if (System.nanoTime() > deadline) throw new IOException("the agents did not all become available: " + nodes);
            Thread.sleep(100);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }

    static String seconds(double s) {
        return s < 0 ? "-" : String.format(Locale.ROOT, "%.1f", s);
    }
}
