package io.bmcast.protocol;

import java.nio.ByteBuffer;

/**
 * Splits the transmission-phase byte stream into request headers and WRITE payloads, however the bytes
 * arrive (one at a time or many requests per read).
 *
 * <p>Use: call {@link #decode} with the bytes read so far until it returns {@link #NEED_MORE}. On
 * {@link #HEADER}, inspect {@link #header()}; for a WRITE, the caller either names where the payload goes
 * ({@link #expectPayload}) — after checking its length, so no buffer is ever sized from an unchecked
 * length — or asks to skip it ({@link #discardPayload}). On {@link #PAYLOAD} the destination is full.
 * A bad magic throws {@link ProtocolException}: the stream cannot be resynchronised, so the caller closes.
 */
public final class RequestDecoder {
    public static final int NEED_MORE = 0;
    public static final int HEADER = 1;
    public static final int PAYLOAD = 2;

    private enum State { HEADER, HEADER_READY, PAYLOAD, DISCARD }

    private final ByteBuffer headerBytes = ByteBuffer.allocate(RequestHeader.LENGTH);
    private final RequestHeader header = new RequestHeader().wrap(headerBytes, 0);
    private State state = State.HEADER;
    private ByteBuffer payload;
    private long discardRemaining;

    /** The last header decoded; valid from a {@link #HEADER} result until the next call to decode. */
    public RequestHeader header() {
        return header;
    }

    /**
     * Consumes bytes from {@code in} and reports progress.
     *
     * @return {@link #NEED_MORE}, {@link #HEADER} or {@link #PAYLOAD}
     */
    public int decode(ByteBuffer in) throws ProtocolException {
        switch (state) {
            case HEADER -> {
                copy(in, headerBytes);
                if (headerBytes.hasRemaining()) return NEED_MORE;
                headerBytes.clear();
                if (header.magic() != Nbd.REQUEST_MAGIC) {
                    int magic = header.magic();
                    reset();
                    throw new ProtocolException(String.format("bad request magic 0x%08x", magic));
                }
                state = State.HEADER_READY;
                return HEADER;
            }
            case HEADER_READY -> throw new IllegalStateException("header not consumed: call expectPayload, discardPayload or next");
            case PAYLOAD -> {
                copy(in, payload);
                if (payload.hasRemaining()) return NEED_MORE;
                payload = null;
                state = State.HEADER;
                return PAYLOAD;
            }
            case DISCARD -> {
                int n = (int) Math.min(in.remaining(), discardRemaining);
                in.position(in.position() + n);
                discardRemaining -= n;
                if (discardRemaining > 0) return NEED_MORE;
                state = State.HEADER;
                return PAYLOAD;
            }
        }
        throw new AssertionError(state);
    }

    /** The header needs no payload: go on to the next request. */
    public void next() {
        requireHeaderReady();
        state = State.HEADER;
    }

    /** The WRITE payload goes into {@code dst} (position to limit, which must equal the request length). */
    public void expectPayload(ByteBuffer dst) {
        requireHeaderReady();
        if (dst.remaining() != header.length()) {
            throw new IllegalArgumentException("payload buffer has " + dst.remaining() + " bytes, request has " + header.length());
        }
        if (!dst.hasRemaining()) {
            state = State.HEADER;
            return;
        }
        payload = dst;
        state = State.PAYLOAD;
    }

    /** The WRITE payload is to be skipped (the request is refused but the stream stays in sync). */
    public void discardPayload() {
        requireHeaderReady();
        discardRemaining = header.length();
        state = discardRemaining == 0 ? State.HEADER : State.DISCARD;
    }

    /** The payload still missing, for a caller that reads it straight from the socket into the buffer. */
    public ByteBuffer pendingPayload() {
        return state == State.PAYLOAD ? payload : null;
    }

    /** Bytes of payload still to skip. */
    public long pendingDiscard() {
        return state == State.DISCARD ? discardRemaining : 0;
    }

    /** After the caller filled {@link #pendingPayload()} itself, or skipped the rest of a discard. */
    public void payloadFilledExternally() {
        if (state == State.PAYLOAD && payload.hasRemaining()) throw new IllegalStateException("payload not full");
        payload = null;
        discardRemaining = 0;
        state = State.HEADER;
    }

    public void reset() {
        headerBytes.clear();
        payload = null;
        discardRemaining = 0;
        state = State.HEADER;
    }

    private void requireHeaderReady() {
        if (state != State.HEADER_READY) throw new IllegalStateException("no header pending (state " + state + ")");
    }

    private static void copy(ByteBuffer from, ByteBuffer to) {
        int n = Math.min(from.remaining(), to.remaining());
        if (n == 0) return;
        int limit = from.limit();
        from.limit(from.position() + n);
        to.put(from);
        from.limit(limit);
    }
}
