package io.bmcast.storage;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The boot profile's bytes: the on-demand reads a booting guest made, in order. The mediator writes it, the agent sends
 * it, the controller keeps it and the bench replays it; all of them read both versions through this codec. Pure: no
 * I/O.
 *
 * <pre>
 *   BMCPROF1 (untimed, 12-byte records)
 *   0              8                 16            20
 *   +--------------+-----------------+-------------+-----------------+----
 *   | "BMCPROF1"   | offset u64      | length u32  | offset u64      | ...
 *   +--------------+-----------------+-------------+-----------------+----
 *
 *   BMCPROF2 (timed, 16-byte records)
 *   0              8                 16            20            24
 *   +--------------+-----------------+-------------+-------------+-----------------+----
 *   | "BMCPROF2"   | offset u64      | length u32  | at u32 (ms) | offset u64      | ...
 *   +--------------+-----------------+-------------+-------------+-----------------+----
 * </pre>
 *
 * Big-endian. {@code at} is when the guest asked for the read, in milliseconds after its first on-demand read.
 * Milliseconds in 32 bits because they fit the record in 16 bytes and last 49 days (a boot under TCG takes minutes),
 * and because a finer grain would promise what nobody keeps: a replay on a shared host sleeps to within a
 * millisecond at best. The times are absolute from the first read, not gaps, so truncating each to a millisecond
 * never adds up: a trace's duration is exact to one millisecond however many reads it holds.
 */
public final class BootProfileFormat {
    /** "BMCPROF1": offset and length, no time (profiles recorded before times were). */
    public static final long MAGIC_V1 = 0x424D4350524F4631L;
    /** "BMCPROF2": offset, length and the time the guest asked. */
    public static final long MAGIC_V2 = 0x424D4350524F4632L;
    public static final int HEADER = 8;
    /** A time that does not fit 32 bits of milliseconds is kept at this. */
    static final long MAX_AT_MS = 0xFFFF_FFFFL;

    /** One on-demand read; {@code atMs} is -1 in an untimed (BMCPROF1) profile. */
    public record Read(long offset, long length, long atMs) {}

    private BootProfileFormat() {}

    /** The size of one record under {@code magic}, or -1 when it is no profile's magic. */
    public static int recordSize(long magic) {
        return magic == MAGIC_V1 ? 12 : magic == MAGIC_V2 ? 16 : -1;
    }

    /** The record size of the profile {@code bytes} begins, or -1 when they do not begin one. */
    public static int recordSize(byte[] bytes) {
        return bytes.length < HEADER ? -1 : recordSize(ByteBuffer.wrap(bytes).getLong(0));
    }

    /** True when {@code bytes} are a profile of whole records (what the controller accepts). */
    public static boolean isWhole(byte[] bytes) {
        int r = recordSize(bytes);
        return r > 0 && (bytes.length - HEADER) % r == 0;
    }

    /** The length of the longest prefix of {@code bytes} that is whole records and at most {@code max}; -1 when no profile. */
    public static int wholePrefix(byte[] bytes, int max) {
        int r = recordSize(bytes);
        if (r < 0 || max < HEADER) return -1;
        int records = Math.min((bytes.length - HEADER) / r, (max - HEADER) / r);
        return HEADER + records * r;
    }

    /**
     * The reads {@code bytes} record, in order, reads of length 0 skipped and a torn tail ignored (a recorder killed
     * mid-record). Throws IllegalArgumentException when they are not a profile.
     */
    public static List<Read> decode(byte[] bytes) {
        int r = recordSize(bytes);
        if (r < 0) throw new IllegalArgumentException("not a boot profile (no BMCPROF1 or BMCPROF2 magic)");
        ByteBuffer b = ByteBuffer.wrap(bytes);
        List<Read> out = new ArrayList<>((bytes.length - HEADER) / r);
        for (int pos = HEADER; pos + r <= bytes.length; pos += r) {
            long len = Integer.toUnsignedLong(b.getInt(pos + 8));
            if (len == 0) continue;
            long at = r == 16 ? Integer.toUnsignedLong(b.getInt(pos + 12)) : -1;
            out.add(new Read(b.getLong(pos), len, at));
        }
        return out;
    }

    /** A BMCPROF2 profile of {@code reads} (each {@code atMs} clamped to 0..2^32-1), or BMCPROF1 when {@code timed} is false. */
    public static byte[] encode(List<Read> reads, boolean timed) {
        long magic = timed ? MAGIC_V2 : MAGIC_V1;
        ByteBuffer b = ByteBuffer.allocate(HEADER + recordSize(magic) * reads.size()).putLong(magic);
        for (Read r : reads) {
            if (timed) putTimed(b, r.offset(), r.length(), r.atMs());
            else b.putLong(r.offset()).putInt((int) r.length());
        }
        return b.array();
    }

    /** Writes one BMCPROF2 record at {@code b}'s position. */
    public static ByteBuffer putTimed(ByteBuffer b, long offset, long length, long atMs) {
        return b.putLong(offset).putInt((int) length).putInt((int) Math.clamp(atMs, 0, MAX_AT_MS));
    }
}
