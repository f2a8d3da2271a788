package io.bmcast.agent;

import io.bmcast.storage.FileHoles;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

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

    /** How {@link #wipe} and {@link #verify} do it, for the log and the scrub's outcome. */
    String method();

    /** A sparse file of {@code size} bytes, created (with no block allocated) or resized when needed. */
    static SparseFile sparseFile(Path path, long size) throws IOException {
        if (size <= 0) throw new IllegalArgumentException("disk size must be positive");
        Files.createDirectories(path.toAbsolutePath().getParent());
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            if (f.length() != size) f.setLength(size);
        }
        return new SparseFile(path, size);
    }

    /** A block device scrubbed with BLKZEROOUT ({@link ScrubMode#ZERO}). */
    static Device blockDevice(Path path) throws IOException {
        return blockDevice(path, ScrubMode.ZERO);
    }

    /**
     * A block device scrubbed by {@code mode}; refused at once when the device cannot do it (a discard or a secure
     * erase it does not support), rather than at the first tenant's destroy.
     */
    static Device blockDevice(Path path, ScrubMode mode) throws IOException {
        if (!Files.exists(path)) throw new IOException("no such block device: " + path);
        try (Posix.BlockDevice dev = new Posix.BlockDevice(path)) {
            long size = dev.size();
            Device d = new Device(path, size, mode);
            // A range of length zero at the device's end: the kernel checks the device's support first and then
            // has nothing to do, so this asks the question without touching a byte (or the page cache).
            try {
                d.erase(dev, size, 0);
            } catch (Posix.ErrnoException e) {
                if (e.errno == Posix.EOPNOTSUPP) throw new IOException(d.unsupported());
                // anything else (an older kernel refusing an empty range) is left to the scrub itself to tell
            }
            return d;
        }
    }

    /**
     * A file: punching the whole file deallocates every block, and {@code SEEK_DATA} finding no data extent at all
     * afterwards is the proof (the file system's own allocation map, not a sample).
     */
    record SparseFile(Path path, long size) implements MachineDisk {
        @Override
        public String method() {
            return "punch (whole file, then no data extent by SEEK_DATA)";
        }

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
     * A block device: wiped as {@code mode} says, then proved by reading the whole device back, bypassing the page
     * cache, and finding nothing but zeros. There is no allocation map to ask, and a sample would only prove the
     * blocks it read: a device that ignores a discard (a thin pool, some RAID levels) keeps the data in the others.
     */
    record Device(Path path, long size, ScrubMode mode) implements MachineDisk {
        @Override
        public String method() {
            return mode.describe();
        }

        @Override
        public void wipe() throws IOException {
            // O_EXCL: no one mounts it or assembles it into an array while it is wiped.
            Posix.BlockDevice dev;
            try {
                dev = new Posix.BlockDevice(path, true);
            } catch (Posix.ErrnoException e) {
                if (e.errno == Posix.EBUSY) throw new IOException(path + " is in use by the kernel (mounted, or part of a device-mapper or md device)");
                throw e;
            }
            try (dev) {
                erase(dev, 0, size);
            } catch (Posix.ErrnoException e) {
                if (e.errno == Posix.EOPNOTSUPP) throw new IOException(unsupported());
                throw e;
            }
        }

        void erase(Posix.BlockDevice dev, long offset, long length) throws IOException {
            switch (mode) {
                case ZERO -> dev.zeroOut(offset, length);
                case DISCARD -> dev.discard(offset, length);
                case SECURE_ERASE -> dev.secureErase(offset, length);
            }
        }

        String unsupported() {
            return path + " cannot " + (mode == ScrubMode.DISCARD ? "discard" : "secure-erase") + " (" + mode.describe()
                    + ": not supported by the device); use --scrub zero";
        }

        @Override
        public String verify() throws IOException {
            String found = ZeroReadBack.check(path, size);
            if (found != null && mode == ScrubMode.DISCARD) found += " (the device does not read zeros after a discard: use --scrub zero)";
            return found;
        }
    }
}
