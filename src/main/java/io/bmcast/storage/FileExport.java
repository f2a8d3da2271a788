package io.bmcast.storage;

import io.bmcast.protocol.Nbd;
import io.bmcast.protocol.NbdException;
import io.bmcast.transport.Export;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An export over a regular file or a block device: positional {@link FileChannel} reads and writes, flush
 * as {@code fdatasync}, TRIM and WRITE_ZEROES by {@code fallocate}, BLOCK_STATUS from
 * {@code lseek(SEEK_DATA/SEEK_HOLE)} (see {@link FileHoles}). Every request completes quickly (the page
 * cache or the local disk), so the server may serve it on the connection's reader thread.
 */
public final class FileExport implements Export {
    private static final int ZERO_CHUNK = 1 << 20;

    private final String name;
    private final String description;
    private final Path path;
    private final boolean readOnly;
    private final FileChannel channel;
    private final FileHoles holes;
    private final long size;
    private final boolean regularFile;
    // Set once fallocate reports it is unsupported here (EOPNOTSUPP): no more attempts, zeros are written.
    private volatile boolean punchUnsupported;
    private volatile boolean zeroRangeUnsupported;
    // Set once SEEK_DATA fails with something other than ENXIO (e.g. some block devices): all data.
    private volatile boolean seekUnsupported;

    public FileExport(String name, String description, Path path, boolean readOnly) throws IOException {
        this.name = name;
        this.description = description;
        this.path = path;
        this.readOnly = readOnly;
        this.regularFile = Files.isRegularFile(path);
        this.channel = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileHoles h = null;
        try {
            h = FileHoles.open(path, !readOnly);
            this.size = h.size();
        } catch (IOException | RuntimeException e) {
            channel.close();
            if (h != null) h.close();
            throw e;
        }
        this.holes = h;
    }

    public static FileExport open(Path path, boolean readOnly) throws IOException {
        return new FileExport(stem(path), path.getFileName().toString(), path, readOnly);
    }

    /** The file name without its last extension: {@code debian.img} names export {@code debian}. */
    public static String stem(Path path) {
        String f = path.getFileName().toString();
        int dot = f.lastIndexOf('.');
        return dot > 0 ? f.substring(0, dot) : f;
    }

    public Path path() {
        return path;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public boolean canFastZero() {
        return !readOnly && regularFile;
    }

    @Override
    public boolean completesQuickly(long offset, long length) {
        return true;
    }

    /** Every range: the export is the file itself. */
    @Override
    public FileChannel sendableRange(long offset, long length) {
        return channel;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                // The file shrank under us: what is past its end reads as zeros.
                while (dst.hasRemaining()) dst.put((byte) 0);
                return;
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkWritable();
        long pos = offset;
        while (src.hasRemaining()) pos += channel.write(src, pos);
        if (fua) channel.force(false);
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        checkWritable();
        if (length == 0 || punchUnsupported) return; // TRIM is a hint
        try {
            holes.punchHole(offset, length);
        } catch (FileHoles.ErrnoException e) {
            punchUnsupported = true;
            return;
        }
        if (fua) channel.force(false);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        checkWritable();
        if (length == 0) return;
        boolean done = false;
        if (!noHole && !punchUnsupported) {
            try {
                holes.punchHole(offset, length);
                done = true;
            } catch (FileHoles.ErrnoException e) {
                punchUnsupported = true;
            }
        }
        if (!done && !zeroRangeUnsupported) {
            try {
                holes.zeroRange(offset, length);
                done = true;
            } catch (FileHoles.ErrnoException e) {
                zeroRangeUnsupported = true;
            }
        }
        if (!done) {
            if (fast) throw new NbdException(Nbd.ENOTSUP, "fast zero not supported on " + path);
            writeZeroBytes(offset, length);
        }
        if (fua) channel.force(false);
    }

    private void writeZeroBytes(long offset, long length) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocateDirect((int) Math.min(length, ZERO_CHUNK));
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), end - pos));
            while (zeros.hasRemaining()) pos += channel.write(zeros, pos);
        }
    }

    @Override
    public void cache(long offset, long length) {
        // Page cache readahead would need posix_fadvise; the hint is accepted and ignored.
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        long end = Math.min(size, offset + length);
        if (seekUnsupported) {
            sink.extent(end - offset, 0);
            return;
        }
        long pos = offset;
        while (pos < end) {
            long data;
            try {
                data = holes.nextData(pos);
            } catch (FileHoles.ErrnoException e) {
                if (pos == offset) {
                    seekUnsupported = true;
                    sink.extent(end - offset, 0);
                }
                return;
            }
            if (data < 0 || data >= end) {
                sink.extent(end - pos, Nbd.STATE_HOLE | Nbd.STATE_ZERO);
                return;
            }
            if (data > pos) {
                if (!sink.extent(data - pos, Nbd.STATE_HOLE | Nbd.STATE_ZERO)) return;
                pos = data;
            }
            long hole = Math.min(end, holes.nextHole(pos));
            if (hole <= pos) hole = end; // file changed under us: call the rest data
            if (!sink.extent(hole - pos, 0)) return;
            pos = hole;
        }
    }

    private void checkWritable() throws NbdException {
        if (readOnly) throw new NbdException(Nbd.EPERM, name + " is read-only");
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            holes.close();
        }
    }

    @Override
    public String toString() {
        return "FileExport[" + name + " " + path + (readOnly ? " ro" : " rw") + "]";
    }
}
