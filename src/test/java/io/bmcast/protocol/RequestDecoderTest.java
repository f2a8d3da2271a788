package io.bmcast.protocol;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RequestDecoderTest {

    record Decoded(int type, long cookie, long offset, long length, byte[] payload) {}

    /** A stream of requests: a READ, a WRITE with data, a FLUSH, a WRITE with an empty payload. */
    private static ByteBuffer stream(byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 * RequestHeader.LENGTH + data.length);
        RequestHeader h = new RequestHeader();
        h.wrap(b, 0).set(0, Nbd.CMD_READ, 1, 4096, 512);
        h.wrap(b, 28).set(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 2, 8192, data.length);
        b.put(56, data);
        h.wrap(b, 56 + data.length).set(0, Nbd.CMD_FLUSH, 3, 0, 0);
        h.wrap(b, 84 + data.length).set(0, Nbd.CMD_WRITE, 4, 0, 0);
        return b;
    }

    private static List<Decoded> decodeAll(ByteBuffer stream, int chunk) throws ProtocolException {
        RequestDecoder d = new RequestDecoder();
        List<Decoded> out = new ArrayList<>();
        ByteBuffer payload = null;
        Decoded pending = null;
        int pos = 0;
        while (pos < stream.capacity()) {
            ByteBuffer in = stream.slice(pos, Math.min(chunk, stream.capacity() - pos));
            while (true) {
                int r = d.decode(in);
                if (r == RequestDecoder.NEED_MORE) break;
                if (r == RequestDecoder.HEADER) {
                    RequestHeader h = d.header();
                    if (h.type() == Nbd.CMD_WRITE) {
                        payload = ByteBuffer.allocate((int) h.length());
                        pending = new Decoded(h.type(), h.cookie(), h.offset(), h.length(), payload.array());
                        d.expectPayload(payload);
                        if (h.length() == 0) out.add(pending);
                    } else {
                        out.add(new Decoded(h.type(), h.cookie(), h.offset(), h.length(), null));
                        d.next();
                    }
                } else {
                    out.add(pending);
                }
            }
            pos += chunk;
        }
        return out;
    }

    @Test
    void decodesTheSameRequestsWhateverTheReadSizes() throws Exception {
        byte[] data = new byte[1000];
        new Random(7).nextBytes(data);
        for (int chunk : new int[] {1, 2, 3, 27, 28, 29, 100, 10_000}) {
            List<Decoded> got = decodeAll(stream(data), chunk);
            assertEquals(4, got.size(), "chunk " + chunk);
            assertEquals(Nbd.CMD_READ, got.get(0).type());
            assertEquals(4096, got.get(0).offset());
            assertEquals(512, got.get(0).length());
            assertEquals(2, got.get(1).cookie());
            assertArrayEquals(data, got.get(1).payload(), "chunk " + chunk);
            assertEquals(Nbd.CMD_FLUSH, got.get(2).type());
            assertEquals(4, got.get(3).cookie());
        }
    }

    @Test
    void badMagicIsAProtocolErrorNamingTheMagic() {
        ByteBuffer b = ByteBuffer.allocate(RequestHeader.LENGTH);
        new RequestHeader().wrap(b, 0).set(0, Nbd.CMD_READ, 1, 0, 512).magic(0xdeadbeef);
        RequestDecoder d = new RequestDecoder();
        ProtocolException e = assertThrows(ProtocolException.class, () -> d.decode(b));
        assertTrue(e.getMessage().contains("0xdeadbeef"), e.getMessage());
    }

    @Test
    void discardedPayloadKeepsTheStreamInSync() throws Exception {
        ByteBuffer b = ByteBuffer.allocate(2 * RequestHeader.LENGTH + 5000);
        RequestHeader h = new RequestHeader();
        h.wrap(b, 0).set(0, Nbd.CMD_WRITE, 1, 0, 5000);
        h.wrap(b, 28 + 5000).set(0, Nbd.CMD_READ, 2, 0, 1);
        RequestDecoder d = new RequestDecoder();
        for (int i = 0; i < b.capacity(); i++) {
            ByteBuffer one = b.slice(i, 1);
            int r = d.decode(one);
            if (r == RequestDecoder.HEADER) {
                if (d.header().type() == Nbd.CMD_WRITE) d.discardPayload();
                else {
                    assertEquals(2, d.header().cookie());
                    assertEquals(b.capacity() - 1, i);
                    return;
                }
            }
        }
        fail("second header never decoded");
    }

    @Test
    void randomBytesNeverCrashTheDecoderOnlyProtocolErrors() {
        Random r = new Random(42);
        for (int i = 0; i < 2000; i++) {
            byte[] junk = new byte[r.nextInt(200)];
            r.nextBytes(junk);
            if (r.nextBoolean() && junk.length >= 4) ByteBuffer.wrap(junk).putInt(0, Nbd.REQUEST_MAGIC);
            RequestDecoder d = new RequestDecoder();
            ByteBuffer in = ByteBuffer.wrap(junk);
            try {
                while (in.hasRemaining()) {
                    int res = d.decode(in);
                    if (res == RequestDecoder.HEADER) {
                        if (d.header().length() > Nbd.MAX_PAYLOAD) d.discardPayload();
                        else if (d.header().type() == Nbd.CMD_WRITE) d.expectPayload(ByteBuffer.allocate((int) d.header().length()));
                        else d.next();
                    } else if (res == RequestDecoder.NEED_MORE) break;
                }
            } catch (ProtocolException expected) {
                assertTrue(expected.getMessage().startsWith("bad request magic"));
            }
        }
    }
}
