package io.bmcast.mediator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The committed region map: the bits whose data was on stable storage when they were written. Two slots
 * written alternately, each with a generation and a CRC32C; the valid slot with the higher generation
 * wins. A torn write of one slot (power lost mid-write) leaves the other, older, slot intact, and the slot
 * being overwritten is never the newest one, so the last forced commit always survives.
 *
 * <pre>
 *   slot (at 0 and at slotSize, slotSize = 4 KiB-aligned):
 *   0            8             16                24              28               32          36     64
 *   +------------+-------------+-----------------+---------------+----------------+-----------+------+----------
 *   | magic      | generation  | region count    | region size   | bitmap bytes   | crc32c    | zero | bitmap:
 *   | "BMCMAP01" | u64         | u64             | u32           | u32            | u32       |      | u64 words
 *   +------------+-------------+-----------------+---------------+----------------+-----------+------+----------
 * </pre>
 * Big-endian header, little-endian bitmap words (bit r%64 of word r/64). The CRC covers bytes 0..32 and
 * the bitmap.
 */
final class CommittedMap implements AutoCloseable {
    static final long MAGIC = 0x424D434D41503031L; // "BMCMAP01"
    static final int HEADER = 64;

    private final Path file;
    private final FileChannel channel;
    private final Durability durability;
    private final long regions;
    private final int regionSize;
    private final int words;
    private final long slotSize;
    private long generation;
    private long[] bits;

    private CommittedMap(Path file, FileChannel channel, Durability durability, long regions, int regionSize) {
        this.file = file;
        this.channel = channel;
        this.durability = durability;
        this.regions = regions;
        this.regionSize = regionSize;
        this.words = LiveMap.words(regions);
        this.slotSize = ((HEADER + (long) words * 8) + 4095) & ~4095L;
    }

    /** Creates the file with an empty map in generation 1, forced. */
    static CommittedMap create(Path file, long regions, int regionSize, Durability durability) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        CommittedMap m = new CommittedMap(file, ch, durability, regions, regionSize);
        m.bits = new long[m.words];
        m.generation = 0;
        m.commit(m.bits);
        return m;
    }

    /** Opens an existing file; fails when neither slot is valid for this image. */
    static CommittedMap open(Path file, long regions, int regionSize, Durability durability) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        CommittedMap m = new CommittedMap(file, ch, durability, regions, regionSize);
        try {
            long[] best = null;
            long bestGen = -1;
            for (int slot = 0; slot < 2; slot++) {
                ByteBuffer b = ByteBuffer.allocate((int) m.slotSize);
                int n = 0;
                while (b.hasRemaining()) {
                    int r = ch.read(b, slot * m.slotSize + b.position());
                    if (r < 0) break;
                    n += r;
                }
                if (n < m.slotSize) continue;
                long[] words = m.decode(b);
                long gen = b.getLong(8);
                if (words != null && gen > bestGen) {
                    best = words;
                    bestGen = gen;
                }
            }
            if (best == null) {
                throw new IOException("committed region map " + file + " has no valid slot (both torn or of another"
                        + " image); refusing to guess which regions hold data");
            }
            m.bits = best;
            m.generation = bestGen;
            return m;
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    private long[] decode(ByteBuffer b) {
        b.order(ByteOrder.BIG_ENDIAN);
        if (b.getLong(0) != MAGIC || b.getLong(16) != regions || b.getInt(24) != regionSize
                || b.getInt(28) != words * 8) {
            return null;
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 32);
        crc.update(b.array(), HEADER, words * 8);
        if ((int) crc.getValue() != b.getInt(32)) return null;
        ByteBuffer bm = ByteBuffer.wrap(b.array(), HEADER, words * 8).order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[words];
        for (int i = 0; i < words; i++) out[i] = bm.getLong();
        return out;
    }

    long generation() {
        return generation;
    }

    long[] bits() {
        return bits.clone();
    }

    /**
     * Writes {@code newBits} as the next generation into the older slot and forces it. The caller has
     * already forced the data of every bit set in {@code newBits} (see {@code MediatedDisk.commit}).
     */
    void commit(long[] newBits) throws IOException {
        long gen = generation + 1;
        ByteBuffer b = ByteBuffer.allocate((int) slotSize).order(ByteOrder.BIG_ENDIAN);
        b.putLong(0, MAGIC).putLong(8, gen).putLong(16, regions).putInt(24, regionSize).putInt(28, words * 8);
        ByteBuffer bm = ByteBuffer.wrap(b.array(), HEADER, words * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long w : newBits) bm.putLong(w);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 32);
        crc.update(b.array(), HEADER, words * 8);
        b.putInt(32, (int) crc.getValue());
        long pos = (gen & 1) * slotSize;
        while (b.hasRemaining()) pos += channel.write(b, pos);
        durability.force(channel, file, true); // metadata too: the first commit sizes the file
        generation = gen;
        bits = newBits.clone();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
