package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.ClientTestProcesses.Server;
import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * NBD over TLS against the real peers: libnbd's tools, qemu-img and qemu-io against our server; our client
 * against nbdkit and qemu-nbd; plaintext refused; certificates from another CA refused both ways.
 */
@Timeout(180)
class TlsInteropTest {
    private static final Duration T = Duration.ofSeconds(60);
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;
    private Path certs;
    private Path image;
    private ClientTestProcesses procs;

    @BeforeEach
    void setUp() throws IOException {
        certs = TestCerts.make(dir.resolve("pki"));
        image = TestFiles.random(dir.resolve("disk.img"), 6 * MiB + 4096, 41);
        procs = new ClientTestProcesses();
    }

    @AfterEach
    void tearDown() throws IOException {
        procs.close();
    }

    private static String withCerts(String uri, Path certs) {
        return uri + (uri.contains("?") ? "&" : "?") + "tls-certificates=" + certs;
    }

    private static NbdClient.Options tlsOptions(Path certs) throws IOException {
        return NbdClient.Options.defaults().giveUpAfter(Duration.ofSeconds(5)).tls(TlsCredentials.client(certs));
    }

    private static byte[] readAll(NbdClient c) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) c.size());
        c.read(0, b);
        return b.array();
    }

    @Test
    void libnbdToolsReadOurServerOverTlsOnUnixAndTcp() throws Exception {
        Tools.assume("nbdinfo", "nbdcopy");
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tls(certs, false).start()) {
            String uri = withCerts(s.tlsUri("disk"), certs);
            String info = Tools.run(T, "nbdinfo", uri).requireSuccess("nbdinfo over TLS").stdout();
            assertTrue(info.contains("with TLS"), info);
            assertTrue(info.contains("export-size: " + Files.size(image)), info);
            Path out = dir.resolve("copy-unix.img");
            Tools.run(T, "nbdcopy", uri, out.toString()).requireSuccess("nbdcopy over TLS");
            assertTrue(TestFiles.sameContent(image, out));
        }
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tcp().tls(certs, false).start()) {
            String uri = withCerts(s.tlsUri("disk"), certs);
            assertTrue(uri.startsWith("nbds://localhost:"), uri);
            Path out = dir.resolve("copy-tcp.img");
            Tools.run(T, "nbdcopy", uri, out.toString()).requireSuccess("nbdcopy over TLS on TCP");
            assertTrue(TestFiles.sameContent(image, out));
        }
    }

    @Test
    void qemuImgAndQemuIoOverTls() throws Exception {
        Tools.assume("qemu-img", "qemu-io");
        String creds = "tls-creds-x509,id=tls0,endpoint=client,dir=" + certs;
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tcp().tls(certs, false).start()) {
            String opts = "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=localhost,file.server.port="
                    + s.listener.port() + ",file.export=disk,file.tls-creds=tls0";
            Tools.run(T, "qemu-img", "compare", "--object", creds, "--image-opts",
                    "driver=raw,file.driver=file,file.filename=" + image, opts)
                    .requireSuccess("qemu-img compare over TLS");
        }
        Path rw = TestFiles.random(dir.resolve("rw.img"), 4 * MiB, 42);
        try (TestServer s = TestServer.on(dir).file("rw", rw, true).tls(certs, false).start()) {
            // Over a Unix socket QEMU has no host name to check unless told one.
            String opts = "driver=raw,file.driver=nbd,file.server.type=unix,file.server.path=" + s.socket()
                    + ",file.export=rw,file.tls-creds=tls0,file.tls-hostname=localhost";
            Tools.run(T, "qemu-io", "--object", creds, "--image-opts", opts, "-c", "write -P 0xa7 1M 512K", "-c", "flush")
                    .requireSuccess("qemu-io write over TLS");
            var r = Tools.run(T, "qemu-io", "--object", creds, "--image-opts", opts, "-c", "read -P 0xa7 1M 512K")
                    .requireSuccess("qemu-io read over TLS");
            assertFalse(r.stdout().contains("Pattern verification failed"), r.stdout());
        }
        byte[] file = Files.readAllBytes(rw);
        assertEquals((byte) 0xa7, file[(int) (1 * MiB + 100)]);
    }

    @Test
    void plaintextIsRefusedAndNothingIsListed() throws Exception {
        Tools.assume("nbdinfo");
        try (TestServer s = TestServer.on(dir).file("secret-disk", image, false).tls(certs, false).start()) {
            var info = Tools.run(T, "nbdinfo", s.uri("secret-disk"));
            assertNotEquals(0, info.exitCode(), info.stdout());
            var list = Tools.run(T, "nbdinfo", "--list", s.uri(""));
            assertFalse(list.stdout().contains("secret-disk"), list.stdout());

            NbdOptionException e = assertThrows(NbdOptionException.class, () -> NbdClient.connect(NbdUri.parse(s.uri("secret-disk"))));
            assertEquals(Nbd.REP_ERR_TLS_REQD, e.replyType());
            assertTrue(e.getMessage().contains("requires TLS"), e.getMessage());
            assertThrows(NbdOptionException.class, () -> NbdClient.list(new Endpoint.Unix(s.socket())));

            // EXPORT_NAME cannot be answered with an error: the server hangs up without a byte of export data.
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(s.socket()))) {
                ByteBuffer greeting = ByteBuffer.allocate(18);
                while (greeting.hasRemaining()) ch.read(greeting);
                byte[] name = "secret-disk".getBytes();
                ByteBuffer opt = ByteBuffer.allocate(4 + 16 + name.length);
                opt.putInt(Nbd.FLAG_C_FIXED_NEWSTYLE).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_EXPORT_NAME).putInt(name.length).put(name).flip();
                while (opt.hasRemaining()) ch.write(opt);
                assertEquals(-1, ch.read(ByteBuffer.allocate(256)));
            }

            // And with TLS, the same client gets in.
            try (NbdClient c = NbdClient.connect(NbdUri.parse(s.tlsUri("secret-disk")), tlsOptions(certs))) {
                assertArrayEquals(Files.readAllBytes(image), readAll(c));
            }
            assertEquals(java.util.List.of("secret-disk"),
                    NbdClient.list(new Endpoint.Unix(s.socket()), T, TlsCredentials.client(certs)).stream().map(NbdClient.ListedExport::name).toList());
        }
    }

    @Test
    void ourClientReadsNbdkitAndQemuNbdOverTls() throws Exception {
        Tools.assume("nbdkit", "qemu-nbd");
        byte[] want = Files.readAllBytes(image);
        Server kit = procs.nbdkit("--tls=require", "--tls-certificates=" + certs, "-r", "file", image.toString());
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbds+unix:///?socket=" + kit.socket()), tlsOptions(certs))) {
            assertArrayEquals(want, readAll(c));
        }
        // Plaintext against nbdkit --tls=require is refused by nbdkit, and we say so.
        NbdOptionException plain = assertThrows(NbdOptionException.class,
                () -> NbdClient.connect(NbdUri.parse("nbd+unix:///?socket=" + kit.socket())));
        assertTrue(plain.getMessage().contains("requires TLS"), plain.getMessage());

        Server q = procs.qemuNbd("--object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=off,dir=" + certs,
                "--tls-creds", "tls0", "-x", "img", "-f", "raw", "-r", image.toString());
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbds+unix:///img?socket=" + q.socket()), tlsOptions(certs))) {
            assertArrayEquals(want, readAll(c));
        }

        // Over TCP the host name is checked too: localhost and 127.0.0.1 are in the certificate.
        int port = freePort();
        procs.startTcp(port, "nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p", Integer.toString(port),
                "--tls=require", "--tls-certificates=" + certs, "-r", "file", image.toString());
        try (NbdClient c = NbdClient.connect(NbdUri.parse("nbds://127.0.0.1:" + port + "/"), tlsOptions(certs))) {
            assertArrayEquals(want, readAll(c));
        }
    }

    @Test
    void certificatesFromAnotherCaAreRefusedBothWays() throws Exception {
        Tools.assume("nbdinfo", "nbdkit");
        Path other = TestCerts.make(dir.resolve("other-pki"));
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tls(certs, true).start()) {
            NbdUri uri = NbdUri.parse(s.tlsUri("disk"));
            // We refuse a server signed by another CA, in one sentence, and never retry in plaintext.
            IOException e = assertThrows(IOException.class, () -> NbdClient.connect(uri, tlsOptions(other)));
            assertTrue(e.getMessage().contains("not signed by our CA"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            // libnbd refuses our server the same way.
            assertNotEquals(0, Tools.run(T, "nbdinfo", withCerts(s.tlsUri("disk"), other)).exitCode());

            // The server verifies peers: a client certificate from another CA is refused...
            Path mixed = Files.createDirectories(dir.resolve("mixed"));
            Files.copy(certs.resolve("ca-cert.pem"), mixed.resolve("ca-cert.pem"));
            Files.copy(other.resolve("client-cert.pem"), mixed.resolve("client-cert.pem"));
            Files.copy(other.resolve("client-key.pem"), mixed.resolve("client-key.pem"));
            IOException refused = assertThrows(IOException.class, () -> NbdClient.connect(uri, tlsOptions(mixed)));
            assertTrue(refused.getMessage().contains("requires a client certificate signed by its CA"), refused.getMessage());
            // ...so is a client with no certificate at all...
            Path none = TestCerts.withoutClientCert(certs, dir.resolve("none"));
            IOException noCert = assertThrows(IOException.class, () -> NbdClient.connect(uri, tlsOptions(none)));
            assertTrue(noCert.getMessage().contains("requires a client certificate"), noCert.getMessage());
            assertNotEquals(0, Tools.run(T, "nbdinfo", withCerts(s.tlsUri("disk"), none)).exitCode());
            // ...and a client certificate from our CA gets in, ours and libnbd's.
            try (NbdClient c = NbdClient.connect(uri, tlsOptions(certs))) {
                assertArrayEquals(Files.readAllBytes(image), readAll(c));
            }
            Tools.run(T, "nbdinfo", withCerts(s.tlsUri("disk"), certs)).requireSuccess("nbdinfo with a client certificate");
        }
        // And nbdkit, signed by our CA, is refused by a client that trusts another.
        Server kit = procs.nbdkit("--tls=require", "--tls-certificates=" + certs, "-r", "file", image.toString());
        IOException e = assertThrows(IOException.class,
                () -> NbdClient.connect(NbdUri.parse("nbds+unix:///?socket=" + kit.socket()), tlsOptions(other)));
        assertTrue(e.getMessage().contains("not signed by our CA"), e.getMessage());
    }

    @Test
    void aTlsUriWithoutCredentialsOrAgainstAPlainServerFails() throws Exception {
        try (TestServer s = TestServer.on(dir).file("disk", image, false).start()) {
            IOException noCreds = assertThrows(IOException.class, () -> NbdClient.connect(NbdUri.parse(s.tlsUri("disk"))));
            assertTrue(noCreds.getMessage().contains("needs TLS credentials"), noCreds.getMessage());
            NbdOptionException plain = assertThrows(NbdOptionException.class,
                    () -> NbdClient.connect(NbdUri.parse(s.tlsUri("disk")), tlsOptions(certs)));
            assertEquals(Nbd.OPT_STARTTLS, plain.option());
            assertTrue(plain.getMessage().contains("not falling back to plaintext"), plain.getMessage());
        }
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }
}
