package io.bmcast.fleet;

/**
 * What an agent and the controller say to each other (JSON over HTTP, the join token as bearer).
 *
 * <p>Identity: the join token lets a machine join, not speak for a node. At a node's first registration the
 * controller issues it its own credential (returned once, in {@link Welcome#credential()}; the controller keeps only
 * its SHA-256). The agent sends it in the {@value #CREDENTIAL_HEADER} header on every later call: heartbeats are
 * refused without it (401) or with another node's (403), and registering a taken name again needs it (409 without).
 * Each report carries a sequence number ({@link Report#seq()}), increasing across the agent's restarts; the
 * controller applies a report only if its number is above the last one it applied, so a delayed report cannot undo
 * a newer state (it still answers the directive).
 *
 * <p>Level-triggered, as Kubernetes controllers are: every heartbeat carries the agent's whole observed state
 * ({@link Report}) and every answer the controller's whole desired state for that node ({@link Directive}).
 * A lost message, a duplicate or a restart of either side only means the next heartbeat converges.
 *
 * <p>An idle agent (it holds nothing and its disk is clean) long-polls: it adds {@code ?wait=MS}, and the
 * controller holds the answer up to that long (at most one heartbeat interval) unless a launch claims the node
 * first, when it answers at once. The agent then sends its next heartbeat right away. So an idle node hears of its
 * instance when the claim commits, not up to an interval later. A controller that does not hold answers at once,
 * and the agent falls back to its interval.
 *
 * <pre>
 *  POST /api/v1/agent/register   Hello     -> Welcome
 *  POST /api/v1/agent/heartbeat  Report    -> Directive
 *  POST /api/v1/agent/heartbeat?wait=MS      (long-poll: answer held up to MS while the node is idle)
 *  GET  /api/v1/images/{name}/kernel | /initrd   (the image's boot files, for agents that boot with --kernel)
 *  GET  /api/v1/images/{name}/boot-profile       (the order a first boot read the image in, once recorded)
 *  PUT  /api/v1/agent/images/{name}/boot-profile (the node's first deployment of the image to reach ready sends it)
 * </pre>
 *
 * <p>Peers: an agent that serves its chunk cache says where ({@link Hello#peerUrl()}) and lists in every report the
 * images whose chunks its cache holds ({@link Report#cachedImages()}); the controller answers with the fleet's peer
 * token ({@link Welcome#peerToken()}) and, in an assignment, the other members of the image's deployment
 * ({@link Assignment#peers()}) and which of them hold it whole ({@link Assignment#complete()}).
 */
public final class AgentProtocol {
    private AgentProtocol() {}

    /** The header that carries a node's credential (the join token stays the bearer). */
    public static final String CREDENTIAL_HEADER = "Bmcast-Node-Credential";

    /**
     * A machine joining (again: registering an existing name updates it and keeps its state).
     *
     * @param peerUrl where this agent serves its chunk cache to peers ({@code http://HOST:PORT}), or null: none
     * @param zone its rack or zone label, or null: peers in the same zone are listed first
     */
    public record Hello(String name, long diskBytes, long memoryBytes, int cpus, String accel, boolean simulated, String peerUrl,
            String zone) {
        public Hello(String name, long diskBytes, long memoryBytes, int cpus, String accel, boolean simulated) {
            this(name, diskBytes, memoryBytes, cpus, accel, simulated, null, null);
        }
    }

    /**
     * @param heartbeatIntervalMs how often the agent should report when nothing changes
     * @param credential the node's credential when this registration issued it (keep it: it is never shown again),
     *                   null when the agent registered with the one it holds
     * @param peerToken the fleet's peer token: what this agent presents to peers' chunk servers and what its own
     *                  asks of them (null from a controller without peers)
     */
    public record Welcome(String name, long heartbeatIntervalMs, String credential, String peerToken) {
        public Welcome(String name, long heartbeatIntervalMs, String credential) {
            this(name, heartbeatIntervalMs, credential, null);
        }
    }

    /**
     * Everything the agent observes.
     *
     * @param seq this report's sequence number: above every earlier report's of this agent, across its restarts
     * @param instance the instance on this machine, or null when there is none (nothing runs, nothing to scrub)
     * @param diskClean true when the disk has been scrubbed and verified since its last tenant (or never held one)
     * @param cachedImages the images whose chunks this node's chunk cache holds (null or empty: none), at most
     *                     {@link #MAX_CACHED_IMAGES}
     */
    public record Report(String name, long seq, InstanceReport instance, boolean diskClean, java.util.List<String> cachedImages) {
        public Report(String name, long seq, InstanceReport instance, boolean diskClean) {
            this(name, seq, instance, diskClean, null);
        }
    }

    /**
     * One instance as the agent sees it.
     *
     * @param phase one of {@code starting, streaming, devirtualized, stopped, scrubbing, deleted, failed}
     *              ({@link InstanceState#wire()} names)
     * @param reason why it failed (or null); with {@code deleted}, the agent's account of the scrub (what ran, how long)
     * @param fractionLocal 0..1, the share of the image's regions on the local disk
     * @param consoleOffset the byte offset in the serial console log where {@code console} starts
     * @param console new serial console output since the offset the controller last acknowledged (may be empty);
     *                the controller takes at most {@link #MAX_CONSOLE_BYTES} of it per report and acknowledges what
     *                it took, so the agent sends the rest next time
     * @param sources where the mediator's bytes came from (an image in the store), or null (an NBD image)
     */
    public record InstanceReport(String id, String phase, String reason, long bytesOnDemand, long bytesBackground,
            double fractionLocal, long consoleOffset, String console, ByteSources sources) {
        public InstanceReport(String id, String phase, String reason, long bytesOnDemand, long bytesBackground,
                double fractionLocal, long consoleOffset, String console) {
            this(id, phase, reason, bytesOnDemand, bytesBackground, fractionLocal, consoleOffset, console, null);
        }
    }

    /**
     * What the controller wants of this node.
     *
     * @param assignment the instance that should be on this node, or null: then nothing should run, and the
     *                   disk should be (or stay) scrubbed
     * @param consoleOffset how many console bytes of the assigned instance the controller holds: the agent
     *                      sends from there on
     * @param scrub the operator ordered a scrub (no assignment then): scrub and verify the disk again even if it
     *              is believed clean, and report the disk not clean until the controller has heard that once
     */
    public record Directive(Assignment assignment, long consoleOffset, boolean scrub) {
        public Directive(Assignment assignment, long consoleOffset) {
            this(assignment, consoleOffset, false);
        }
    }

    /**
     * @param desired {@code running} (start it if not yet, keep it) or {@code deleted} (power off, stop the
     *                mediator, scrub and verify the disk, then report {@code deleted})
     * @param peers the peer URLs of the other members of the image's deployment: the nodes that hold the image or
     *              deploy it now (same zone first; empty or null: none); sent while the instance is being placed or
     *              started, when the agent reads them
     * @param complete which members (this node's own URL among them, if so) hold the whole image. Present (even
     *                 empty) from a controller that lists every member: the agent's mediator then asks them along
     *                 each chunk's distribution tree rather than in order; null from one that lists a few peers
     */
    public record Assignment(String instanceId, String desired, ImageSpec image, java.util.List<String> peers,
            java.util.List<String> complete) {
        public Assignment(String instanceId, String desired, ImageSpec image) {
            this(instanceId, desired, image, null, null);
        }
    }

    /**
     * An image as an agent needs it to boot an instance.
     *
     * @param kernelPath API path of the kernel to boot with (null: the disk's own boot loader boots)
     * @param initrdPath API path of the initrd (or null)
     * @param bootProfilePath API path of the boot profile the image's first deployment recorded (or null: none yet)
     * @param manifestSha256 for an {@code s3://} image, the SHA-256 of the manifest verified when it was added: the
     *     agent passes it to {@code instance run --manifest-sha256}, whose mediator refuses any other (null: unpinned)
     */
    public record ImageSpec(String name, String uri, long sizeBytes, long allocatedBytes, String kernelPath,
            String initrdPath, String append, String bootProfilePath, String manifestSha256) {
        public ImageSpec(String name, String uri, long sizeBytes, long allocatedBytes, String kernelPath, String initrdPath,
                String append) {
            this(name, uri, sizeBytes, allocatedBytes, kernelPath, initrdPath, append, null, null);
        }

        public ImageSpec(String name, String uri, long sizeBytes, long allocatedBytes, String kernelPath, String initrdPath,
                String append, String bootProfilePath) {
            this(name, uri, sizeBytes, allocatedBytes, kernelPath, initrdPath, append, bootProfilePath, null);
        }
    }

    /** The most images one report may list as cached (a node's cache of 20 GiB holds a few dozen at most). */
    public static final int MAX_CACHED_IMAGES = 64;

    /** The largest boot profile an agent sends (16-byte records: ~65,000 on-demand reads, far more than any boot). */
    public static final int MAX_BOOT_PROFILE_BYTES = 1 << 20;

    /** The most console output one report may carry (UTF-8 bytes). */
    public static final int MAX_CONSOLE_BYTES = 64 << 10;

    public static final String DESIRED_RUNNING = "running";
    public static final String DESIRED_DELETED = "deleted";
}
