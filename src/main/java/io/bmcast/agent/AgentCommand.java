package io.bmcast.agent;

import io.bmcast.util.Signals;
import io.bmcast.util.Units;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code bmcast agent}: one machine's agent, or with {@code --simulate} a fleet of hollow ones, until SIGTERM. */
@Command(name = "agent", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Join this machine to a bmcast controller: register, heartbeat, run the instance the controller assigns",
                "(mediator + QEMU, as 'instance run' does), and scrub and verify the disk when it is destroyed.",
                "With --simulate: hollow nodes that speak the same protocol with scripted timings, without QEMU or disk."})
public final class AgentCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--controller", required = true, paramLabel = "URL", description = "the controller, e.g. http://127.0.0.1:8080")
    String controller;

    @Option(names = "--join-token", required = true, paramLabel = "FILE", description = "file holding the join token (the controller's DATA/join.token)")
    Path joinToken;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "this machine's name (with --count: the prefix of NAME-0001..)")
    String name;

    @Option(names = "--work", paramLabel = "DIR", description = "the agent's own directory: the node's credential, state, disk file, instance files, boot file cache (with --simulate: the hollow nodes' credentials)")
    Path work;

    @Option(names = "--disk-size", paramLabel = "SIZE", description = "size of the sparse disk file WORK/disk.img (default: ${DEFAULT-VALUE})", defaultValue = "32G")
    String diskSize;

    @Option(names = "--disk", paramLabel = "DEVICE", description = "use this block device as the machine's disk instead (its content is destroyed)")
    Path device;

    @Option(names = "--scrub", paramLabel = "MODE", description = "how a --disk device is wiped before it is read back whole: zero (BLKZEROOUT), discard (BLKDISCARD; fails where the device does not then read zeros) or secure-erase (BLKSECDISCARD, where the device has one) (default: ${DEFAULT-VALUE})", defaultValue = "zero")
    String scrub;

    @Option(names = "--memory", paramLabel = "SIZE", description = "memory of the instance's guest (default: ${DEFAULT-VALUE})", defaultValue = "512M")
    String memory;

    @Option(names = "--stop-grace", paramLabel = "DURATION", description = "how long a destroyed guest may take to power off after ACPI (default: ${DEFAULT-VALUE})", defaultValue = "10s")
    String stopGrace;

    @Option(names = "--tls-dir", paramLabel = "DIR", description = "TLS credentials for images served over nbds:// (ca-cert.pem, and client-cert.pem, client-key.pem if the image server verifies clients)")
    Path tlsDir;

    @Option(names = "--ca-cert", paramLabel = "FILE", description = "the CA (PEM) that signed an https:// controller's certificate (default: $BMCAST_CA_CERT, else the system's CAs)")
    Path caCert;

    @Option(names = "--cache-size", paramLabel = "SIZE", description = "the node's chunk cache under WORK/chunk-cache (verified chunks of s3:// images, LRU; kept across tenants, never on the tenant's disk); 0: no cache and no peer serving (default: ${DEFAULT-VALUE})", defaultValue = "20G")
    String cacheSize;

    @Option(names = "--peer-listen", paramLabel = "HOST:PORT", description = "where the chunk cache is served to peers (a fleet: 0.0.0.0:7301 or this machine's address) (default: ${DEFAULT-VALUE}, this machine only)", defaultValue = "127.0.0.1:0")
    String peerListen;

    @Option(names = "--peer-advertise", paramLabel = "URL", description = "the URL peers reach the chunk server at, when not the listen address (NAT, a wildcard listen), e.g. http://10.0.0.7:7301")
    String peerAdvertise;

    @Option(names = "--zone", paramLabel = "NAME", description = "this machine's rack or zone: peers in the same zone are asked first")
    String zone;

    @Option(names = "--peer-tls-dir", paramLabel = "DIR", description = "serve peers over HTTPS with DIR/server-cert.pem and server-key.pem (signed by the fleet's CA); peers then trust DIR/ca-cert.pem")
    Path peerTlsDir;

    @Option(names = "--inject-corrupt", paramLabel = "RATE", description = "fault for tests: flip a byte in this share (0..1) of the chunks served to peers (default: 0)", defaultValue = "0", hidden = false)
    double injectCorrupt;

    @Option(names = "--simulate", description = "hollow nodes: the protocol and the states, no QEMU, no disk")
    boolean simulate;

    @Option(names = "--count", paramLabel = "N", description = "with --simulate: how many hollow nodes (default: ${DEFAULT-VALUE})", defaultValue = "1")
    int count;

    @Option(names = "--ready-after", paramLabel = "DURATION", description = "with --simulate: starting -> streaming after (default: ${DEFAULT-VALUE})", defaultValue = "3s")
    String readyAfter;

    @Option(names = "--local-after", paramLabel = "DURATION", description = "with --simulate: streaming -> devirtualized after (default: ${DEFAULT-VALUE})", defaultValue = "10s")
    String localAfter;

    @Override
    public Integer call() throws Exception {
        URI base = parseUrl();
        long disk = size("--disk-size", diskSize);
        long mem = size("--memory", memory);
        if (mem < 64L << 20) throw usage("--memory must be at least 64M");
        if (!simulate && (count != 1 || spec.commandLine().getParseResult().hasMatchedOption("--ready-after")
                || spec.commandLine().getParseResult().hasMatchedOption("--local-after"))) {
            throw usage("--count, --ready-after and --local-after go with --simulate");
        }
        if (device != null && spec.commandLine().getParseResult().hasMatchedOption("--disk-size")) {
            throw usage("give --disk-size or --disk, not both");
        }
        ScrubMode scrubMode;
        try {
            scrubMode = ScrubMode.parse(scrub);
        } catch (IllegalArgumentException e) {
            throw usage("--scrub must be one of " + ScrubMode.names() + ", not '" + scrub + "'");
        }
        if (device == null && spec.commandLine().getParseResult().hasMatchedOption("--scrub")) {
            throw usage("--scrub goes with --disk: a disk file is always punched and proved by SEEK_DATA");
        }
        String token;
        try {
            token = ControllerClient.readToken(joinToken);
        } catch (java.io.IOException e) {
            throw usage(e.getMessage());
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTerminate(stop::countDown);
        Path ca = io.bmcast.fleet.ControllerTls.caCert(caCert);
        javax.net.ssl.SSLContext tls;
        try {
            tls = io.bmcast.fleet.ControllerTls.context(ca);
        } catch (java.io.IOException e) {
            throw usage(e.getMessage());
        }
        try (HttpClient http = ControllerClient.sharedHttp(tls)) {
            ControllerClient client = new ControllerClient(base, token, http, ca);
            if (simulate) {
                if (count < 1 || count > 100_000) throw usage("--count must be between 1 and 100000");
                long ready = duration("--ready-after", readyAfter);
                long local = duration("--local-after", localAfter);
                if (local < ready) throw usage("--local-after must not be shorter than --ready-after");
                var timeline = new HollowTimeline(ready, local);
                HollowFleet hollow = new HollowFleet(client, new HollowFleet.Options(name, count, disk, mem,
                        Runtime.getRuntime().availableProcessors(), timeline));
                // with --work, the nodes' credentials outlive this process: the same fleet started again keeps its names
                if (work != null) hollow.keepCredentialsIn(work.resolve("hollow-credentials"));
                try (HollowFleet fleet = hollow.start()) {
                    fleet.allRefused().thenRun(stop::countDown);
                    stop.await();
                    String why = fleet.allRefused().getNow(null);
                    if (why != null) {
                        spec.commandLine().getErr().println("bmcast: " + (count == 1 ? why : "every hollow node was refused its name, e.g.: " + why));
                        return 1;
                    }
                }
                return 0;
            }
            if (work == null) throw usage("--work DIR is required (the agent's state, disk file and instance files live there)");
            if (device != null && (!Files.exists(device) || Files.isRegularFile(device) || Files.isDirectory(device))) {
                throw usage("--disk wants a block device (for a disk file, give --work and --disk-size)");
            }
            Duration grace = Duration.ofNanos(duration("--stop-grace", stopGrace));
            try (Peering peering = peering();
                 Agent agent = new Agent(name, new Machine.Config(work, device, disk, mem, grace,
                    tlsDir == null ? java.util.List.of() : java.util.List.of("--tls-dir", tlsDir.toAbsolutePath().toString()), scrubMode), client)
                    .peering(peering).start()) {
                agent.refused().thenRun(stop::countDown);
                stop.await();
                // Refused its name: no retry loop; the operator must act (another agent holds it, or `node rm` it).
                String why = agent.refused().getNow(null);
                if (why != null) {
                    spec.commandLine().getErr().println("bmcast: " + why);
                    return 1;
                }
            }
            return 0;
        }
    }

    /** The chunk cache and its peer server as the options say; none with {@code --cache-size 0}. */
    private Peering peering() {
        long cache;
        try {
            cache = Units.parseSize(cacheSize);
            if (cache < 0) throw new IllegalArgumentException();
        } catch (IllegalArgumentException e) {
            throw usage("--cache-size wants a size such as 20G (0: no cache), not '" + cacheSize + "'");
        }
        if (!(injectCorrupt >= 0 && injectCorrupt <= 1)) throw usage("--inject-corrupt is a share between 0 and 1, not " + injectCorrupt);
        if (zone != null && !zone.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw usage("--zone is 1-64 characters of letters, digits, '.', '_' or '-'");
        }
        if (cache == 0) {
            if (peerAdvertise != null || peerTlsDir != null || injectCorrupt > 0) {
                throw usage("--peer-advertise, --peer-tls-dir and --inject-corrupt need a chunk cache (--cache-size above 0)");
            }
            return Peering.none(zone);
        }
        java.net.InetSocketAddress listen = hostPort("--peer-listen", peerListen);
        URI advertise = null;
        if (peerAdvertise != null) {
            try {
                advertise = URI.create(peerAdvertise);
                if (!("http".equals(advertise.getScheme()) || "https".equals(advertise.getScheme())) || advertise.getHost() == null
                        || advertise.getPort() <= 0) {
                    throw new IllegalArgumentException();
                }
            } catch (IllegalArgumentException e) {
                throw usage("--peer-advertise must be a URL such as http://10.0.0.7:7301, not '" + peerAdvertise + "'");
            }
        }
        javax.net.ssl.SSLContext tls = null;
        if (peerTlsDir != null) {
            try {
                tls = io.bmcast.transport.TlsCredentials.httpsServer(peerTlsDir);
            } catch (java.io.IOException e) {
                throw usage("--peer-tls-dir: " + e.getMessage());
            }
        }
        try {
            Path ca = peerTlsDir == null ? null : peerTlsDir.resolve("ca-cert.pem");
            return Peering.open(work, cache, listen, advertise, zone, tls, injectCorrupt).trusting(ca != null && Files.exists(ca) ? ca : null);
        } catch (java.io.IOException e) {
            throw usage("cannot serve the chunk cache on " + peerListen + ": " + e.getMessage());
        }
    }

    private java.net.InetSocketAddress hostPort(String option, String text) {
        int colon = text.lastIndexOf(':');
        try {
            if (colon <= 0) throw new IllegalArgumentException();
            String host = text.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
            int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 0 || port > 65535) throw new IllegalArgumentException();
            return new java.net.InetSocketAddress(host, port);
        } catch (IllegalArgumentException e) {
            throw usage(option + " wants HOST:PORT such as 0.0.0.0:7301, not '" + text + "'");
        }
    }

    private URI parseUrl() {
        try {
            URI u = URI.create(controller);
            if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()) || u.getHost() == null) throw new IllegalArgumentException();
            return u;
        } catch (IllegalArgumentException e) {
            throw usage("--controller must be a URL such as http://127.0.0.1:8080, not '" + controller + "'");
        }
    }

    private long size(String option, String text) {
        try {
            long v = Units.parseSize(text);
            if (v <= 0) throw new IllegalArgumentException("must be positive");
            return v;
        } catch (IllegalArgumentException e) {
            throw usage(option + " wants a size such as 512M or 32G, not '" + text + "'");
        }
    }

    private long duration(String option, String text) {
        try {
            return Units.parseDurationNanos(text);
        } catch (IllegalArgumentException e) {
            throw usage(option + " wants a duration such as 3s or 500ms, not '" + text + "'");
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
