package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Directive;
import io.bmcast.fleet.AgentProtocol.InstanceReport;

/**
 * A node that speaks the agent protocol over HTTP and does what the test says: the real protocol, without a
 * guest. It holds what a real agent would observe (the instance it runs, its phase, progress, console
 * output, whether its disk is clean) and reports it with each {@link #beat()}, with the credential its
 * registration gave it and a new sequence number each time.
 */
final class ProtocolAgent {
    final String name;
    final long diskBytes;
    private ApiClient api;
    private String instanceId;
    private String phase;
    private String reason;
    private long bytesOnDemand;
    private long bytesBackground;
    private double fractionLocal;
    private final StringBuilder console = new StringBuilder();
    private long consoleAcked;
    private boolean diskClean = true;
    Directive last;
    /** The node's credential, from its first registration (null before it). */
    private String credential;
    private long seq;
    /** Where this node serves peers, its zone, the images its cache holds, its mediator's byte sources (peers tests). */
    private String peerUrl;
    private String zone;
    private java.util.List<String> cachedImages;
    private io.bmcast.fleet.ByteSources sources;

    ProtocolAgent(String baseUrl, String joinToken, String name, long diskBytes) {
        this.api = new ApiClient(baseUrl, joinToken);
        this.name = name;
        this.diskBytes = diskBytes;
    }

    /** The same machine, talking to a controller at another address (a restarted one). */
    void reconnect(String baseUrl, String joinToken) {
        api = new ApiClient(baseUrl, joinToken);
    }

    AgentProtocol.Welcome register() {
        ApiClient.Response r = registerRaw();
        assertEquals(200, r.status(), r.body());
        AgentProtocol.Welcome w = r.as(AgentProtocol.Welcome.class);
        if (w.credential() != null) credential = w.credential();
        return w;
    }

    ApiClient.Response registerRaw() {
        return send("/api/v1/agent/register", new AgentProtocol.Hello(name, diskBytes, 1L << 30, 2, "kvm", true, peerUrl, zone));
    }

    String credential() {
        return credential;
    }

    /** Speaks with another credential from now on (null: none). */
    void credential(String c) {
        credential = c;
    }

    /** Posts {@code body} to {@code path} with this node's credential (when it has one). */
    ApiClient.Response send(String path, Object body) {
        return credential == null ? api.post(path, body) : api.post(path, body, AgentProtocol.CREDENTIAL_HEADER, credential);
    }

    /** Reports what this node observes; remembers and answers the directive. */
    Directive beat() {
        ApiClient.Response r = beatRaw();
        assertEquals(200, r.status(), r.body());
        last = r.as(Directive.class);
        if (instanceId != null && last.assignment() != null && last.assignment().instanceId().equals(instanceId)) {
            consoleAcked = last.consoleOffset();
        }
        return last;
    }

    ApiClient.Response beatRaw() {
        return send("/api/v1/agent/heartbeat", report());
    }

    /** What this node observes now, as its next report (it takes the next sequence number). */
    AgentProtocol.Report report() {
        InstanceReport inst = null;
        if (instanceId != null) {
            byte[] all = console.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            int from = (int) Math.min(consoleAcked, all.length);
            String unsent = new String(all, from, all.length - from, java.nio.charset.StandardCharsets.UTF_8);
            inst = new InstanceReport(instanceId, phase, reason, bytesOnDemand, bytesBackground, fractionLocal, from, unsent, sources);
        }
        return new AgentProtocol.Report(name, ++seq, inst, diskClean, cachedImages);
    }

    /** Takes the assigned instance, as an agent does on a {@code running} directive: starting, disk in use. */
    String take() {
        assertEquals(AgentProtocol.DESIRED_RUNNING, last.assignment().desired(), "directive " + last);
        instanceId = last.assignment().instanceId();
        phase = "starting";
        diskClean = false;
        return instanceId;
    }

    void phase(String p) {
        phase = p;
    }

    void failed(String why) {
        phase = "failed";
        reason = why;
    }

    void progress(long onDemand, long background, double local) {
        bytesOnDemand = onDemand;
        bytesBackground = background;
        fractionLocal = local;
    }

    /** Serves peers at {@code url} in {@code zone} (either null), from its next registration. */
    ProtocolAgent peer(String url, String zone) {
        this.peerUrl = url;
        this.zone = zone;
        return this;
    }

    void cached(String... images) {
        cachedImages = java.util.List.of(images);
    }

    void sources(io.bmcast.fleet.ByteSources s) {
        sources = s;
    }

    /** Sends {@code profile} as the boot profile of {@code image}, as this node (its credential). */
    ApiClient.Response bootProfile(String image, byte[] profile) {
        var b = api.request("/api/v1/agent/images/" + image + "/boot-profile?node=" + name)
                .header("Content-Type", "application/octet-stream")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofByteArray(profile));
        if (credential != null) b.header(AgentProtocol.CREDENTIAL_HEADER, credential);
        return api.send(b);
    }

    void print(String text) {
        console.append(text);
    }

    /** The scrub verified: the instance is deleted and the disk clean. */
    void scrubbed() {
        phase = "deleted";
        diskClean = true;
    }

    /** The disk is being scrubbed (as an agent reports during an ordered scrub). */
    void dirty() {
        diskClean = false;
    }

    /** The scrub verified, with no instance held. */
    void clean() {
        diskClean = true;
    }

    /** Nothing runs any more (the agent dropped the deleted instance). */
    void forget() {
        instanceId = null;
        phase = null;
        reason = null;
        console.setLength(0);
        consoleAcked = 0;
    }

    String instanceId() {
        return instanceId;
    }
}
