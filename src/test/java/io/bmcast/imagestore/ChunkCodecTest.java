package io.bmcast.imagestore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ChunkCodecTest {
    @Test
    void compressibleChunksAreZstdAndRandomOnesRaw() throws IOException {
        byte[] text = "bmcast streams the disk while the guest boots\n".repeat(30000).substring(0, 1 << 20).getBytes();
        ChunkCodec.Encoded z = ChunkCodec.encode(ByteBuffer.wrap(text));
        assertEquals(Manifest.Encoding.ZSTD, z.encoding());
        assertTrue(z.stored().remaining() < text.length / 8);
        Manifest.Chunk c = new Manifest.Chunk(Sha256.hex(z.stored()), z.encoding(), z.stored().remaining());
        assertTrue(ChunkVerifier.verified(c, z.stored()));
        assertEquals(ByteBuffer.wrap(text), ChunkCodec.decode(c, z.stored(), text.length));
        // A frame that decodes to another length is refused, not padded or cut.
        assertThrows(IOException.class, () -> ChunkCodec.decode(c, z.stored(), text.length - 1));

        byte[] noise = new byte[1 << 20];
        new Random(7).nextBytes(noise);
        ChunkCodec.Encoded r = ChunkCodec.encode(ByteBuffer.wrap(noise));
        assertEquals(Manifest.Encoding.RAW, r.encoding());
        // One flipped byte: the name no longer matches.
        ByteBuffer bad = ByteBuffer.wrap(noise.clone());
        bad.put(12345, (byte) (bad.get(12345) ^ 1));
        assertTrue(!ChunkVerifier.verified(new Manifest.Chunk(Sha256.hex(r.stored()), Manifest.Encoding.RAW, noise.length), bad));
    }
}
