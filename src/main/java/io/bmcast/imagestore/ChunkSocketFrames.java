package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The frames of the chunk socket, on which a node's peer server asks the deployment running on the same node for a
 * chunk ({@link ChunkSocketServer}, {@link ChunkSocketClient}). A connection carries requests one at a time, each
 * followed by its reply.
 *
 * <pre>
 * request, 69 bytes
 *  0          4         5                                                        69
 *  +----------+---------+--------------------------------------------------------+
 *  | "BMCQ"   | flags   | chunk name: its SHA-256 as 64 lowercase hex digits     |
 *  +----------+---------+--------------------------------------------------------+
 *  flags: bit 0 background (the asker copies in the background, behind guests' reads); other bits 0
 *
 * reply: a 9-byte header, then length bytes of body
 *  0          4         5                    9
 *  +----------+---------+--------------------+-------------------------------------+
 *  | "BMCR"   | status  | length (uint32 BE) | body                                |
 *  +----------+---------+--------------------+-------------------------------------+
 *  status 0 OK            body: the chunk's stored bytes, verified against its name
 *         1 NOT_IN_IMAGE  body: empty; the deployment's image has no chunk of that name
 *         2 FAILED        body: one sentence (UTF-8, at most 1024 bytes): why no source gave it
 * </pre>
 *
 * Pure: no I/O. A frame that breaks these rules is a {@link Malformed} naming the rule.
 */
public final class ChunkSocketFrames {
    static final int REQUEST_MAGIC = 0x424D4351; // "BMCQ"
    static final int REPLY_MAGIC = 0x424D4352; // "BMCR"
    static final int REQUEST_LENGTH = 69;
    static final int REPLY_HEADER_LENGTH = 9;
    private static final int FLAG_BACKGROUND = 1;
    /** The largest body: a chunk's largest stored size (see {@link Manifest.Chunk}). */
    static final int MAX_BODY = Manifest.MAX_CHUNK + (Manifest.MAX_CHUNK >> 4);
    static final int MAX_SENTENCE = 1024;

    private ChunkSocketFrames() {}

    public enum Status {
        OK, NOT_IN_IMAGE, FAILED
    }

    /** A request: the chunk's name, and whether the asker copies in the background. */
    public record Request(String sha256, boolean background) {}

    /** A reply's header: its status and how many bytes of body follow. */
    public record ReplyHeader(Status status, int length) {}

    /** A frame that is not one. */
    public static final class Malformed extends java.io.IOException {
        Malformed(String sentence) {
            super(sentence);
        }
    }

    /** The request frame for {@code sha256} (position 0, ready to write). */
    static ByteBuffer request(String sha256, boolean background) {
        if (!Sha256.isHex(sha256)) throw new IllegalArgumentException("a chunk is named by 64 lowercase hex digits: " + sha256);
        ByteBuffer b = ByteBuffer.allocate(REQUEST_LENGTH).putInt(REQUEST_MAGIC).put((byte) (background ? FLAG_BACKGROUND : 0))
                .put(sha256.getBytes(StandardCharsets.US_ASCII));
        return b.flip();
    }

    /** Decodes the {@link #REQUEST_LENGTH} bytes of a request from {@code frame}'s position (left unmoved). */
    static Request request(ByteBuffer frame) throws Malformed {
        int at = frame.position();
        if (frame.remaining() < REQUEST_LENGTH) throw new Malformed("a request is " + REQUEST_LENGTH + " bytes, not " + frame.remaining());
        if (frame.getInt(at) != REQUEST_MAGIC) throw new Malformed("not a chunk request: its first 4 bytes are not \"BMCQ\"");
        int flags = frame.get(at + 4) & 0xff;
        if ((flags & ~FLAG_BACKGROUND) != 0) throw new Malformed("a chunk request with unknown flags " + Integer.toHexString(flags));
        byte[] name = new byte[64];
        frame.get(at + 5, name);
        String sha = new String(name, StandardCharsets.US_ASCII);
        if (!Sha256.isHex(sha)) throw new Malformed("a chunk request's name is not 64 lowercase hex digits");
        return new Request(sha, (flags & FLAG_BACKGROUND) != 0);
    }

    /** The header of a reply of {@code status} with {@code length} bytes of body (position 0, ready to write). */
    static ByteBuffer replyHeader(Status status, int length) {
        return ByteBuffer.allocate(REPLY_HEADER_LENGTH).putInt(REPLY_MAGIC).put((byte) status.ordinal()).putInt(length).flip();
    }

    /** The body of a {@link Status#FAILED} reply: {@code sentence}, cut to {@link #MAX_SENTENCE} bytes. */
    static ByteBuffer sentence(String sentence) {
        byte[] b = (sentence == null || sentence.isBlank() ? "the deployment failed to get the chunk" : sentence).getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_SENTENCE) return ByteBuffer.wrap(b);
        // cut on a character boundary: drop continuation bytes at the cut
        int n = MAX_SENTENCE;
        while (n > 0 && (b[n] & 0xc0) == 0x80) n--;
        return ByteBuffer.wrap(b, 0, n).slice();
    }

    /** Decodes a reply header from {@code frame}'s position (left unmoved). */
    static ReplyHeader replyHeader(ByteBuffer frame) throws Malformed {
        int at = frame.position();
        if (frame.remaining() < REPLY_HEADER_LENGTH) throw new Malformed("a reply header is " + REPLY_HEADER_LENGTH + " bytes, not " + frame.remaining());
        if (frame.getInt(at) != REPLY_MAGIC) throw new Malformed("not a chunk reply: its first 4 bytes are not \"BMCR\"");
        int s = frame.get(at + 4) & 0xff;
        if (s >= Status.values().length) throw new Malformed("a chunk reply with unknown status " + s);
        Status status = Status.values()[s];
        long length = frame.getInt(at + 5) & 0xffffffffL;
        long max = switch (status) {
            case OK -> MAX_BODY;
            case NOT_IN_IMAGE -> 0;
            case FAILED -> MAX_SENTENCE;
        };
        if (length > max) throw new Malformed("a chunk reply (" + status + ") of " + length + " bytes: at most " + max);
        return new ReplyHeader(status, (int) length);
    }
}
