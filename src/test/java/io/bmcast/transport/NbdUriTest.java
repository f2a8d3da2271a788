package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NbdUriTest {

    @Test
    void tcpWithDefaultPortAndName() {
        NbdUri u = NbdUri.parse("nbd://images.example/debian-12");
        assertEquals(new Endpoint.Tcp("images.example", 10809), u.endpoint());
        assertEquals("debian-12", u.exportName());
        assertEquals("nbd://images.example:10809/debian-12", u.toString());
    }

    @Test
    void tcpWithPortIpv6AndEmptyName() {
        assertEquals(NbdUri.tcp("10.0.0.1", 10810, ""), NbdUri.parse("nbd://10.0.0.1:10810"));
        assertEquals(NbdUri.tcp("10.0.0.1", 10810, ""), NbdUri.parse("nbd://10.0.0.1:10810/"));
        NbdUri v6 = NbdUri.parse("nbd://[::1]:4000/x");
        assertEquals(new Endpoint.Tcp("::1", 4000), v6.endpoint());
        assertEquals("nbd://[::1]:4000/x", v6.toString());
    }

    @Test
    void unixSocketWithPercentDecoding() {
        NbdUri u = NbdUri.parse("nbd+unix:///my%20disk?socket=/run/bm%20cast/s.sock");
        assertEquals(new Endpoint.Unix(Path.of("/run/bm cast/s.sock")), u.endpoint());
        assertEquals("my disk", u.exportName());
        assertEquals("nbd+unix:///my%20disk?socket=/run/bm%20cast/s.sock", u.toString());
    }

    @Test
    void printedFormParsesBack() {
        for (NbdUri u : new NbdUri[] {
                NbdUri.unix(Path.of("/tmp/a?b&c=d.sock"), "ünï/code?#%"),
                NbdUri.tcp("host", 1, "a b/c"),
                NbdUri.tcp("fe80::1", 10809, "")}) {
            assertEquals(u, NbdUri.parse(u.toString()), u.toString());
        }
    }

    @Test
    void tlsSchemesParseAndPrintBack() {
        NbdUri t = NbdUri.parse("nbds://images.example:10810/debian-12");
        assertTrue(t.tls());
        assertEquals(new Endpoint.Tcp("images.example", 10810), t.endpoint());
        assertEquals("nbds://images.example:10810/debian-12", t.toString());
        NbdUri u = NbdUri.parse("nbds+unix:///disk?socket=/run/s.sock");
        assertTrue(u.tls());
        assertEquals("nbds+unix:///disk?socket=/run/s.sock", u.toString());
        assertEquals(u, NbdUri.parse(u.toString()));
        assertFalse(NbdUri.parse("nbd+unix:///disk?socket=/run/s.sock").tls());
        assertNotEquals(NbdUri.parse("nbd://h/x"), NbdUri.parse("nbds://h/x"));
    }

    @Test
    void clearErrors() {
        assertMessage("must not name a host", "nbds+unix://host/x?socket=/s");
        assertMessage("vsock not supported", "nbds+vsock://2/x");
        assertMessage("vsock not supported", "nbd+vsock://2/x");
        assertMessage("unknown URI scheme 'http'", "http://host/x");
        assertMessage("not an NBD URI", "host:10809");
        assertMessage("needs ?socket=PATH", "nbd+unix:///x");
        assertMessage("must not name a host", "nbd+unix://host/x?socket=/s");
        assertMessage("needs the nbd+unix scheme", "nbd://host/x?socket=/s");
        assertMessage("missing host", "nbd:///x");
        assertMessage("bad port", "nbd://host:99999/x");
        assertMessage("bad percent escape", "nbd://host/%zz");
        assertMessage("unsupported query parameter 'tls-certificates'", "nbd://host/x?tls-certificates=/etc");
    }

    @Test
    void endpointsParse() {
        assertEquals(new Endpoint.Unix(Path.of("/run/x.sock")), Endpoint.parse("/run/x.sock"));
        assertEquals(new Endpoint.Unix(Path.of("x.sock")), Endpoint.parse("unix:x.sock"));
        assertEquals(new Endpoint.Tcp("h", 10809), Endpoint.parse("h"));
        assertEquals(new Endpoint.Tcp("h", 99), Endpoint.parse("h:99"));
        assertEquals(new Endpoint.Tcp("::1", 99), Endpoint.parse("[::1]:99"));
        assertThrows(IllegalArgumentException.class, () -> Endpoint.parse("::1"));
    }

    @Test
    void backoffDoublesToTheCapWithJitter() {
        ReconnectBackoff b = new ReconnectBackoff(java.time.Duration.ofMillis(50), java.time.Duration.ofSeconds(2));
        assertEquals(50_000_000L, b.delayNanos(1, 0.999999999), 1_000);
        assertEquals(25_000_000L, b.delayNanos(1, 0.0));
        assertEquals(100_000_000L, b.delayNanos(2, 0.999999999), 1_000);
        assertEquals(2_000_000_000L, b.delayNanos(7, 0.999999999), 1_000);
        assertEquals(2_000_000_000L, b.delayNanos(1000, 0.999999999), 1_000);
    }

    private static void assertMessage(String expected, String uri) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NbdUri.parse(uri), uri);
        assertTrue(e.getMessage().contains(expected), () -> uri + " -> " + e.getMessage());
    }
}
