package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.ClientTestProcesses;
import io.bmcast.testing.ClientTestProcesses.Server;
import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestCerts.KeyType;
import io.bmcast.testing.TestCerts.Maker;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * RSA and EC keys on either side of NBD over TLS with peers verified, with every real peer: libnbd's nbdinfo
 * and nbdcopy and qemu-img (all gnutls) present their client certificate to our server; our client presents
 * its own to nbdkit and qemu-nbd (gnutls too). Certificates are made as users make them, with openssl and
 * with certtool, each tool's set once for the class (a cell only copies files); the export is 1 MiB.
 */
@Timeout(300)
class TlsKeyTypesInteropTest {
    private static final Duration T = Duration.ofSeconds(60);

    @TempDir
    static Path shared;
    private static final Map<Maker, Path> sets = new EnumMap<>(Maker.class);
    private static Path image;
    private static byte[] want;

    @TempDir
    Path dir;
    private ClientTestProcesses procs;

    @BeforeAll
    static void makeImage() throws IOException {
        image = TestFiles.random(shared.resolve("disk.img"), (1 << 20) + 4096, 14);
        want = Files.readAllBytes(image);
    }

    @BeforeEach
    void setUp() throws IOException {
        procs = new ClientTestProcesses();
    }

    @AfterEach
    void tearDown() throws IOException {
        procs.close();
    }

    /** The certificate set {@code maker} makes, made on first use (a missing tool skips only its cells). */
    private static synchronized Path set(Maker maker) throws IOException {
        Path s = sets.get(maker);
        if (s == null) {
            s = TestCerts.keyTypeSet(shared.resolve(maker.tool), maker);
            sets.put(maker, s);
        }
        return s;
    }

    static Stream<Arguments> matrix() {
        List<Arguments> cells = new ArrayList<>();
        for (Maker m : Maker.values()) {
            for (KeyType server : KeyType.values()) {
                for (KeyType client : KeyType.values()) cells.add(Arguments.of(m, server, client));
            }
        }
        return cells.stream();
    }

    private static String withCerts(String uri, Path certs) {
        return uri + (uri.contains("?") ? "&" : "?") + "tls-certificates=" + certs;
    }

    private static byte[] readAll(String uri, Path certs) throws IOException {
        try (NbdClient c = NbdClient.connect(NbdUri.parse(uri),
                NbdClient.Options.defaults().giveUpAfter(Duration.ofSeconds(5)).tls(TlsCredentials.client(certs)))) {
            ByteBuffer b = ByteBuffer.allocate((int) c.size());
            c.read(0, b);
            return b.array();
        }
    }

    @ParameterizedTest(name = "{0} certificates, server key {1}, client key {2}")
    @MethodSource("matrix")
    void gnutlsClientsPresentEitherKeyTypeToOurVerifyingServer(Maker maker, KeyType server, KeyType client) throws Exception {
        Tools.assume("nbdinfo", "nbdcopy", "qemu-img");
        Path certs = TestCerts.layout(set(maker), server, client, dir.resolve("pki"));
        // Over TCP, so that every client also checks the server's name (localhost) against its certificate.
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tcp().tls(certs, true).start()) {
            String uri = withCerts(s.tlsUri("disk"), certs);
            String info = Tools.run(T, "nbdinfo", uri).requireSuccess("nbdinfo").stdout();
            assertTrue(info.contains("with TLS") && info.contains("export-size: " + want.length), info);

            Path copy = dir.resolve("copy.img");
            Tools.run(T, "nbdcopy", uri, copy.toString()).requireSuccess("nbdcopy");
            assertTrue(TestFiles.sameContent(image, copy));

            Tools.run(T, "qemu-img", "compare", "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + certs,
                    "--image-opts", "driver=raw,file.driver=file,file.filename=" + image,
                    "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=localhost,file.server.port="
                            + s.listener.port() + ",file.export=disk,file.tls-creds=tls0")
                    .requireSuccess("qemu-img compare");

            assertArrayEquals(want, readAll(s.tlsUri("disk"), certs), "our own client");
        }
    }

    @ParameterizedTest(name = "{0} certificates, server key {1}, client key {2}")
    @MethodSource("matrix")
    void ourClientPresentsEitherKeyTypeToVerifyingNbdkitAndQemuNbd(Maker maker, KeyType server, KeyType client) throws Exception {
        Tools.assume("nbdkit", "qemu-nbd");
        Path certs = TestCerts.layout(set(maker), server, client, dir.resolve("pki"));
        Server kit = procs.nbdkit("--tls=require", "--tls-certificates=" + certs, "--tls-verify-peer", "-r", "file", image.toString());
        assertArrayEquals(want, readAll("nbds+unix:///?socket=" + kit.socket(), certs), "nbdkit");

        Server q = procs.qemuNbd("--object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=on,dir=" + certs,
                "--tls-creds", "tls0", "-x", "img", "-f", "raw", "-r", image.toString());
        assertArrayEquals(want, readAll("nbds+unix:///img?socket=" + q.socket(), certs), "qemu-nbd");
    }

    /**
     * Our server names no CA in its certificate request (see UnlistedCaTrustManager), so a gnutls client now
     * presents a certificate from another CA where it used to present none: it is still refused, and the
     * server's log says why in one sentence.
     */
    @Test
    void anRsaClientCertificateFromAnotherCaIsRefusedAndTheServerSaysWhy() throws Exception {
        Tools.assume("nbdinfo");
        Path certs = TestCerts.layout(set(Maker.OPENSSL), KeyType.RSA, KeyType.RSA, dir.resolve("pki"));
        Path other = TestCerts.keyTypeSet(dir.resolve("other-set"), Maker.OPENSSL);
        Path mixed = Files.createDirectories(dir.resolve("mixed"));
        Files.copy(certs.resolve("ca-cert.pem"), mixed.resolve("ca-cert.pem"));
        Files.copy(other.resolve(KeyType.RSA.file("client", "cert")), mixed.resolve("client-cert.pem"));
        Files.copy(other.resolve(KeyType.RSA.file("client", "key")), mixed.resolve("client-key.pem"));

        List<String> log = new ArrayList<>();
        Logger serverLog = Logger.getLogger(NbdServer.class.getName());
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                synchronized (log) {
                    log.add(r.getMessage());
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        serverLog.addHandler(capture);
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tls(certs, true).start()) {
            var refused = Tools.run(T, "nbdinfo", withCerts(s.tlsUri("disk"), mixed));
            assertNotEquals(0, refused.exitCode(), refused.stdout());
            Tools.run(T, "nbdinfo", withCerts(s.tlsUri("disk"), certs)).requireSuccess("nbdinfo with our CA's RSA certificate");
            // The connection's closing line may come a moment after nbdinfo exits.
            for (int i = 0; i < 500 && !logged(log, "the client's certificate is not signed by our CA"); i++) Thread.sleep(20);
        } finally {
            serverLog.removeHandler(capture);
        }
        synchronized (log) {
            assertTrue(logged(log, "the client's certificate is not signed by our CA"), String.join("\n", log));
            assertFalse(logged(log, "presented no certificate"), String.join("\n", log));
        }
    }

    private static boolean logged(List<String> log, String what) {
        synchronized (log) {
            return log.stream().anyMatch(l -> l != null && l.contains(what));
        }
    }
}
