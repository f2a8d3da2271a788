package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestCerts.KeyFormat;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import io.bmcast.testing.Tools;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The key files the usual tools write serve real TLS sessions; what cannot be used is one clear sentence. */
@Timeout(120)
class TlsCredentialsTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(KeyFormat.class)
    void everyKeyEncodingServesATlsSession(KeyFormat format) throws Exception {
        Path certs = TestCerts.make(dir.resolve("pki"), format);
        String header = Files.readAllLines(certs.resolve("server-key.pem")).getFirst();
        assertEquals(switch (format) {
            case PKCS8_EC, PKCS8_RSA -> "-----BEGIN PRIVATE KEY-----";
            case PKCS1_RSA -> "-----BEGIN RSA PRIVATE KEY-----";
            case SEC1_EC -> "-----BEGIN EC PRIVATE KEY-----";
        }, header);
        Path image = TestFiles.random(dir.resolve("disk.img"), 1 << 20, 7);
        try (TestServer s = TestServer.on(dir).file("disk", image, false).tls(certs, true).start();
             NbdClient c = NbdClient.connect(NbdUri.parse(s.tlsUri("disk")),
                     NbdClient.Options.defaults().giveUpAfter(Duration.ofSeconds(5)).tls(TlsCredentials.client(certs)))) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            c.read(0, b);
            assertArrayEquals(Files.readAllBytes(image), b.array());
        }
    }

    @Test
    void unusableDirectoriesAreOneSentence() throws Exception {
        Tools.assume("openssl");
        IOException missing = assertThrows(IOException.class, () -> TlsCredentials.server(dir, false));
        assertTrue(missing.getMessage().contains("has no readable server-cert.pem"), missing.getMessage());
        IOException noCa = assertThrows(IOException.class, () -> TlsCredentials.client(dir));
        assertTrue(noCa.getMessage().contains("has no readable ca-cert.pem"), noCa.getMessage());

        Path certs = TestCerts.make(dir.resolve("pki"));
        Tools.run(Duration.ofSeconds(30), "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-aes256", "-pass", "pass:secret", "-out", certs.resolve("server-key.pem").toString()).requireSuccess("openssl genpkey");
        IOException encrypted = assertThrows(IOException.class, () -> TlsCredentials.server(certs, false));
        assertTrue(encrypted.getMessage().contains("encrypted private keys are not supported"), encrypted.getMessage());
        assertFalse(encrypted.getMessage().contains("\n"));
    }
}
