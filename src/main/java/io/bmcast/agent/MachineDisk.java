package io.bmcast.agent;

import io.bmcast.storage.FileHoles;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * The machine's own disk, the one an instance's image is deployed to and its tenant writes on: a sparse file
 * standing in for a disk (several agents on one host) or a real block device. It knows how to wipe itself and,
 * separately, how to prove it holds nothing, so that a wipe that silently did nothing can never pass.
 */
public sealed interface MachineDisk permits MachineDisk.SparseFile, MachineDisk.Device {

    Path path();

    long size();

    /** Removes every byte; a failure here is reported, but {@link #verify()} still decides. */
    void wipe() throws IOException;

    /** Null when the disk provably holds no byte of data, else what was found. Reads, never writes. */
    String verify() throws IOException;

    /** A sparse file of {@code size} bytes, created (with no block allocated) or resized when needed. */
    static SparseFile sparseFile(Path path, long size) throws IOException {
        if (size <= 0) throw new IllegalArgumentException("disk size must be positive");
        Files.createDirectories(path.toAbsolutePath().getParent());
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            if (f.length() != size) f.setLength(size);
        }
        return new SparseFile(path, size);
    }

    static Device blockDevice(Path path) throws IOException {
        if (!Files.exists(path)) throw new IOException("no such block device: " + path);
        try (Posix.BlockDevice dev = new Posix.BlockDevice(path)) {
            return new Device(path, dev.size());
        }
    }

    /**
     * A file: punching the whole file deallocates every block, and {@code SEEK_DATA} finding no data extent at all
     * afterwards is the proof (the file system's own allocation map, not a sample).
     */
    record SparseFile(Path path, long size) implements MachineDisk {
        @Override
        public void wipe() throws IOException {
            try (FileHoles f = FileHoles.open(path, true)) {
                f.punchHole(0, Math.max(size, f.size()));
            }
        }

        @Override
        public String verify() throws IOException {
            // A descriptor of its own: nothing of the wipe's state is trusted.
            try (FileHoles f = FileHoles.open(path, false)) {
                long actual = f.size();
                if (actual != size) return path + " is " + actual + " bytes, expected " + size;
                long data = f.nextData(0);
                if (data >= 0) return "data left in " + path + " at offset " + data + " (up to " + f.nextHole(data) + ")";
                return null;
            }
        }
    }

    /**
     * A block device: BLKDISCARD (instant on SSDs and thin volumes), and BLKZEROOUT when the device does not
     * read zeros after a discard (a discard is only a hint to many devices). There is no allocation map to ask,
     * so the proof is reading back, bypassing the page cache, the first and last MiB and random 4 KiB blocks.
     */
    record Device(Path path, long size) implements MachineDisk {
        static final int SAMPLES = 256;
        static final int BLOCK = 4096;
        static final int EDGE = 1 << 20;

        @Override
        public void wipe() throws IOException {
            try (Posix.BlockDevice dev = new Posix.BlockDevice(path)) {
                boolean discarded;
                try {
                    dev.discard(0, size);
                    discarded = true;
                } catch (Posix.ErrnoException e) {
                    discarded = false; // EOPNOTSUPP: no discard here; zeroing is the way
                }
                if (!discarded || findNonZero(new SplittableRandom(size)) != null) dev.zeroOut(0, size);
            }
        }

        @Override
        public String verify() throws IOException {
            return findNonZero(new SplittableRandom(System.nanoTime()));
        }

        private String findNonZero(SplittableRandom rnd) throws IOException {
            // O_DIRECT: the device's answer, not what the page cache still remembers.
            ByteBuffer buf = ByteBuffer.allocateDirect(EDGE + BLOCK).alignedSlice(BLOCK);
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
                long edge = Math.min(EDGE, size) & ~(long) (BLOCK - 1);
                String found = nonZero(ch, buf, 0, (int) edge);
                if (found == null && size > edge) found = nonZero(ch, buf, (size - edge) & ~(long) (BLOCK - 1), (int) edge);
                long blocks = size / BLOCK;
                for (int i = 0; i < SAMPLES && found == null && blocks > 0; i++) {
                    found = nonZero(ch, buf, rnd.nextLong(blocks) * BLOCK, BLOCK);
                }
                return found;
            }
        }

        private String nonZero(FileChannel ch, ByteBuffer buf, long offset, int length) throws IOException {
            buf.clear().limit(length);
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) return path + " ended at " + (offset + buf.position());
            }
            for (int i = 0; i < length; i += 8) {
                if (buf.getLong(i) != 0) return "non-zero bytes in " + path + " at offset " + (offset + i);
            }
            return null;
        }
    }
}
