package io.bmcast.fleet;

import java.util.List;

/**
 * The REST API's resources (JSON under {@code /api/v1}, a bearer token on every call): what the CLI, the
 * dashboard and scripts read and send. The controller serves an OpenAPI document of them at
 * {@code /api/v1/openapi.json}.
 *
 * <pre>
 *  GET    /api/v1/nodes                     [Node]            operator only
 *  GET    /api/v1/images                    [Image]
 *  POST   /api/v1/images                    NewImage -> Image operator only (multipart with kernel/initrd files, or JSON)
 *  DELETE /api/v1/images/{name}                               operator only
 *  GET    /api/v1/images/{name}/extents     ImageExtents      the cached extent map (operator, agents)
 *  GET    /api/v1/instances                 [Instance]        a project token sees its project's only
 *  POST   /api/v1/instances                 Launch -> [Instance] (201)
 *  GET    /api/v1/instances/{id}            Instance          another project's instance is 404
 *  DELETE /api/v1/instances/{id}            Instance (202)    destroy: power off, scrub, delete
 *  GET    /api/v1/instances/{id}/console    text/plain        the serial console so far
 *  GET    /api/v1/events?after=ID&limit=N   [Event]
 *  GET    /api/v1/events/stream             text/event-stream (SSE; Last-Event-ID resumes)
 *  GET    /api/v1/summary                   Summary           counts and rates for the dashboard
 *  POST   /api/v1/tokens                    NewToken -> Token operator only
 *  GET    /api/v1/tokens                    [TokenInfo]       operator only; ids, never secrets
 *  DELETE /api/v1/tokens/{id}               TokenInfo         revoke: at once, open event streams closed
 *  POST   /api/v1/login-codes               LoginCode (201)   a one-time dashboard link for the caller
 *  GET    /metrics                          Prometheus text   operator only
 *  GET    /login?code=C                     one-time code -> session cookie, redirects to /
 * Mutating calls send Content-Type: application/json (or multipart for an image upload); a browser's
 * (an Origin header) must come from the controller's own origin.
 * </pre>
 */
public final class Api {
    private Api() {}

    /**
     * @param maintenance the operator took it out of scheduling (what it runs keeps running)
     * @param mustScrub it owes a verified scrub before any reuse (destroy --force, node scrub)
     */
    public record Node(String name, String state, long diskBytes, long memoryBytes, int cpus, String accel,
            boolean simulated, String instanceId, String lastHeartbeat, String registeredAt, boolean maintenance,
            boolean mustScrub) {}

    /** {@code POST /api/v1/nodes/{name}/maintenance}: on or off. */
    public record Maintenance(boolean on) {}

    /**
     * @param bootProfileBytes the size of the boot profile its first deployment recorded (0 with {@code hasBootProfile} false)
     * @param manifestSha256 for an {@code s3://} image, the SHA-256 of the manifest verified when it was added (every
     *     deployment refuses another); null for an NBD image
     */
    public record Image(String name, String uri, long sizeBytes, long allocatedBytes, boolean hasKernel,
            boolean hasInitrd, String append, String createdAt, boolean hasBootProfile, long bootProfileBytes, String manifestSha256) {}

    public record NewImage(String name, String uri, String append) {}

    /** The answer to an agent's boot profile: {@code recorded} false when the image had one already (kept as it was). */
    public record BootProfileRecorded(boolean recorded) {}

    /**
     * An image's cached extent map: the data ranges (not holes), ascending, as {@code [offset, length]} pairs,
     * so that agents need not scan the image server for it again.
     */
    public record ImageExtents(String name, long sizeBytes, long allocatedBytes, List<long[]> data) {}

    /**
     * @param state {@link InstanceState#wire()}; {@code unknown} when its node is offline
     * @param lastKnownState the stored state (differs from {@code state} only when that is {@code unknown})
     * @param bytesFromCache bytes of an image in the store that came from this node's chunk cache (see {@link ByteSources});
     *                       with {@code bytesFromPeers}, {@code bytesFromStore} and the chunk counts: 0 for an NBD image
     */
    public record Instance(String id, String project, String image, String node, String state,
            String lastKnownState, String reason, long bytesOnDemand, long bytesBackground, double fractionLocal,
            String createdAt, String updatedAt, long bytesFromCache, long bytesFromPeers, long bytesFromStore,
            long chunksVerified, long chunksRejected) {}

    public record Launch(String image, int count) {}

    public record Event(long id, String at, String type, String project, String instanceId, String node,
            String message) {}

    public record Summary(java.util.Map<String, Integer> nodes, java.util.Map<String, Integer> instances,
            double launchesPerMinute, double destroysPerMinute, double bytesPerSecond) {}

    /** {@code ttlSeconds}: the token expires that long after it is made (null: never). */
    public record NewToken(String project, Long ttlSeconds) {
        public NewToken(String project) {
            this(project, null);
        }
    }

    /** A new token: the secret is shown this once. {@code expires} is ISO-8601, null for never. */
    public record Token(String token, String project, String role, String id, String expires) {}

    /** A token as listed: its public id and grant, never the secret or its hash. {@code kind}: api or session. */
    public record TokenInfo(String id, String role, String project, String kind, String created, String expires) {}

    /** A one-time dashboard login: open {@code path} on the controller before {@code expires}. */
    public record LoginCode(String path, String expires) {}

    /** Every error body: one sentence a person understands. */
    public record Error(String error) {}

    public record Page<T>(List<T> items) {}
}
