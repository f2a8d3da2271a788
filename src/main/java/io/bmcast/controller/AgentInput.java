package io.bmcast.controller;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Hello;
import io.bmcast.fleet.AgentProtocol.InstanceReport;
import io.bmcast.fleet.AgentProtocol.Report;
import io.bmcast.fleet.InstanceState;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Everything an agent sends, checked at the boundary before any of it reaches the store. Two rules:
 * <ul>
 *   <li>identifiers and numbers that are wrong are refused (400, naming the field): nothing is applied;</li>
 *   <li>free text (a failure reason, console output) is never refused for its length, only clipped to what the
 *       store holds, so that the state it comes with still moves. A reason of 3,000 characters once made every
 *       heartbeat fail on the column's limit and left its instance {@code streaming} for ever.</li>
 * </ul>
 */
final class AgentInput {
    static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    /** Instance ids as the controller makes them ({@code i-} and hex), within the 40 characters of their column. */
    static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,39}");
    static final Pattern ACCEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,15}");
    /** The instances.reason column. */
    static final int REASON_MAX = 2048;
    static final String CLIPPED = " [clipped]";

    private AgentInput() {}

    /** A checked Hello (accel defaults to tcg). */
    static Hello hello(Hello hello) {
        if (hello == null) throw ControllerException.invalid("a registration needs a body (Hello)");
        nodeName(hello.name());
        if (hello.diskBytes() <= 0) throw ControllerException.invalid("node " + hello.name() + " reports no disk (diskBytes must be > 0)");
        if (hello.memoryBytes() < 0) throw ControllerException.invalid("memoryBytes must not be negative");
        if (hello.cpus() < 0) throw ControllerException.invalid("cpus must not be negative");
        String accel = hello.accel() == null ? "tcg" : hello.accel();
        if (!ACCEL.matcher(accel).matches()) throw ControllerException.invalid("accel is 1-16 characters of letters, digits, '.', '_' or '-' (such as kvm or tcg)");
        return new Hello(hello.name(), hello.diskBytes(), hello.memoryBytes(), hello.cpus(), accel, hello.simulated(),
                peerUrl(hello.peerUrl()), zone(hello.zone()));
    }

    /** A checked report, its reason and console clipped to what the controller keeps. */
    static Report report(Report report) {
        if (report == null) throw ControllerException.invalid("a heartbeat needs a body (Report)");
        if (report.name() == null) throw ControllerException.invalid("a heartbeat needs the node's name (name)");
        nodeName(report.name());
        if (report.seq() <= 0) throw ControllerException.invalid("a heartbeat needs its sequence number (seq, at least 1)");
        java.util.List<String> cached = cachedImages(report.cachedImages());
        InstanceReport i = report.instance();
        if (i == null) return new Report(report.name(), report.seq(), null, report.diskClean(), cached);
        if (i.id() == null) throw ControllerException.invalid("instance.id is required when instance is given");
        if (!INSTANCE_ID.matcher(i.id()).matches()) throw ControllerException.invalid("instance.id is 1-40 characters of letters, digits, '.', '_' or '-'");
        if (i.phase() == null) throw ControllerException.invalid("instance.phase is required when instance is given");
        try {
            InstanceState.fromWire(i.phase());
        } catch (IllegalArgumentException e) {
            throw ControllerException.invalid("instance.phase '" + clip(i.phase(), 32) + "' is not a phase");
        }
        if (i.bytesOnDemand() < 0 || i.bytesBackground() < 0) throw ControllerException.invalid("instance.bytesOnDemand and bytesBackground must not be negative");
        if (!(i.fractionLocal() >= 0 && i.fractionLocal() <= 1)) throw ControllerException.invalid("instance.fractionLocal must be between 0 and 1");
        if (i.consoleOffset() < 0) throw ControllerException.invalid("instance.consoleOffset must not be negative");
        // ByteSources refuses negative counts when it is read (a 400 from the JSON binding)
        return new Report(report.name(), report.seq(), new InstanceReport(i.id(), i.phase(), clip(i.reason(), REASON_MAX),
                i.bytesOnDemand(), i.bytesBackground(), i.fractionLocal(), i.consoleOffset(), console(i.console()), i.sources()),
                report.diskClean(), cached);
    }

    /** An image name as the catalog takes it. */
    static final Pattern IMAGE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    static final Pattern ZONE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    /** A peer server's base URL: http(s)://HOST:PORT, nothing after it, within its column; null stays null. */
    static String peerUrl(String url) {
        if (url == null || url.isEmpty()) return null;
        ControllerException bad = ControllerException.invalid("peerUrl must be http://HOST:PORT or https://HOST:PORT (at most 512 characters)");
        java.net.URI u;
        try {
            u = new java.net.URI(url);
        } catch (java.net.URISyntaxException e) {
            throw bad;
        }
        boolean bare = u.getRawPath() == null || u.getRawPath().isEmpty() || u.getRawPath().equals("/");
        if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null || u.getPort() <= 0 || !bare
                || u.getRawQuery() != null || u.getRawUserInfo() != null || url.length() > 512) {
            throw bad;
        }
        return u.getScheme() + "://" + u.getRawAuthority();
    }

    static String zone(String zone) {
        if (zone == null || zone.isEmpty()) return null;
        if (!ZONE.matcher(zone).matches()) throw ControllerException.invalid("zone is 1-64 characters of letters, digits, '.', '_' or '-'");
        return zone;
    }

    /** The images a node reports cached: names only, each once, at most {@link AgentProtocol#MAX_CACHED_IMAGES}. */
    static java.util.List<String> cachedImages(java.util.List<String> names) {
        if (names == null || names.isEmpty()) return java.util.List.of();
        if (names.size() > AgentProtocol.MAX_CACHED_IMAGES) {
            throw ControllerException.invalid("cachedImages lists at most " + AgentProtocol.MAX_CACHED_IMAGES + " images");
        }
        java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
        for (String n : names) {
            if (n == null || !IMAGE_NAME.matcher(n).matches()) throw ControllerException.invalid("cachedImages holds a name that is not an image name");
            out.add(n);
        }
        return java.util.List.copyOf(out);
    }

    private static void nodeName(String name) {
        if (name == null || !NODE_NAME.matcher(name).matches()) {
            throw ControllerException.invalid("a node name is 1-128 characters of letters, digits, '.', '_' or '-'");
        }
    }

    /** {@code text} cut to at most {@code max} characters, the cut marked; never splits a surrogate pair. */
    static String clip(String text, int max) {
        if (text == null || text.length() <= max) return text;
        int keep = max - CLIPPED.length();
        if (Character.isHighSurrogate(text.charAt(keep - 1))) keep--;
        return text.substring(0, keep) + CLIPPED;
    }

    /**
     * At most {@link AgentProtocol#MAX_CONSOLE_BYTES} of console output, cut at a character boundary and without a
     * marker: the controller acknowledges the bytes it kept and the agent sends the rest with its next report, so
     * nothing is lost and the offsets (bytes of the guest's own output) stay true.
     */
    static String console(String text) {
        if (text == null || text.length() <= AgentProtocol.MAX_CONSOLE_BYTES / 4) return text == null ? "" : text;
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= AgentProtocol.MAX_CONSOLE_BYTES) return text;
        int end = AgentProtocol.MAX_CONSOLE_BYTES;
        while (end > 0 && (utf8[end] & 0xC0) == 0x80) end--; // not inside a character
        return new String(utf8, 0, end, StandardCharsets.UTF_8);
    }
}
