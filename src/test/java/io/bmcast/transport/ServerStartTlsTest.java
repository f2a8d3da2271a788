package io.bmcast.transport;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.protocol.Nbd;
import io.bmcast.testing.RawNbd;
import io.bmcast.testing.TestCerts;
import io.bmcast.testing.TestFiles;
import io.bmcast.testing.TestServer;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The option loop of a server that requires TLS, byte by byte on the wire (the spec's NBD_OPT_STARTTLS rules). */
@Timeout(60)
class ServerStartTlsTest {
    @TempDir
    Path dir;

    @Test
    void everyOptionButStartTlsAndAbortIsRefusedUntilTls() throws Exception {
        Path certs = TestCerts.make(dir.resolve("pki"));
        Path image = TestFiles.random(dir.resolve("d.img"), 1 << 20, 3);
        try (TestServer s = TestServer.on(dir).file("d", image, false).tls(certs, false).start();
             RawNbd raw = new RawNbd(s.socket())) {
            raw.greet();
            byte[] go = ByteBuffer.allocate(4 + 1 + 2).putInt(1).put((byte) 'd').putShort((short) 0).array();
            for (int option : new int[] {Nbd.OPT_LIST, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_INFO, Nbd.OPT_GO, Nbd.OPT_LIST_META_CONTEXT, 42}) {
                raw.option(option, option == Nbd.OPT_INFO || option == Nbd.OPT_GO ? go : new byte[0]);
                RawNbd.OptionReply r = raw.optionReply();
                assertEquals(option, r.option());
                assertEquals(Nbd.REP_ERR_TLS_REQD, r.type(), "option " + option);
            }
            raw.option(Nbd.OPT_STARTTLS, new byte[] {1});
            assertEquals(Nbd.REP_ERR_INVALID, raw.optionReply().type(), "STARTTLS takes no data");

            raw.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertEquals(Nbd.REP_ACK, raw.optionReply().type());
            TlsChannel tls = TlsChannel.handshake(raw.ch, TlsCredentials.client(certs).clientEngine(new Endpoint.Unix(s.socket())), "test");
            // Inside TLS: a second STARTTLS is invalid, and the export is served.
            ByteBuffer opt = ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_STARTTLS).putInt(0).flip();
            while (opt.hasRemaining()) tls.write(opt);
            ByteBuffer reply = ByteBuffer.allocate(20);
            while (reply.hasRemaining()) assertTrue(tls.read(reply) >= 0);
            assertEquals(Nbd.REP_ERR_INVALID, reply.getInt(12));
            ByteBuffer skip = ByteBuffer.allocate(reply.getInt(16));
            while (skip.hasRemaining()) tls.read(skip);
            opt = ByteBuffer.allocate(16 + go.length).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(go.length).put(go).flip();
            while (opt.hasRemaining()) tls.write(opt);
            reply.clear();
            while (reply.hasRemaining()) tls.read(reply);
            assertEquals(Nbd.REP_INFO, reply.getInt(12), "GO inside TLS answers with the export's info");
        }
        try (TestServer plain = TestServer.on(java.nio.file.Files.createDirectories(dir.resolve("p"))).file("d", image, false).start();
             RawNbd raw = new RawNbd(plain.socket())) {
            raw.greet();
            raw.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertEquals(Nbd.REP_ERR_UNSUP, raw.optionReply().type(), "a server without --tls-dir does not pretend");
        }
    }
}
