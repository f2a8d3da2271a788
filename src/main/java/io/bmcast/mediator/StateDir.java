package io.bmcast.mediator;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Properties;

/**
 * The files of one mediated disk's state directory, and the identity check that keeps a state dir from
 * being used for another image or another local disk.
 *
 * <pre>
 *   state            identity (Java properties): format, image, size (the image's), diskSize (the local disk's,
 *                    >= size; absent in dirs made before disks could be larger: then equal to size), regionSize,
 *                    local, localKey, localCreated.
 *                    Written last at creation (temp file, forced, renamed, directory forced): its presence
 *                    means the other files are complete.
 *   committed.map    durable region map (two slots, see CommittedMap)
 *   live.map         live region map + boot id (shared mapping, never forced, see LiveMap)
 *   boot-profile     order of on-demand fetches (see BootProfile)
 *   status.json      last status snapshot (for {@code node status})
 *   lock             held (fcntl lock) while a mediator uses the dir; the kernel drops it when the process dies
 * </pre>
 */
final class StateDir {
    static final String IDENTITY = "state";
    static final String COMMITTED = "committed.map";
    static final String LIVE = "live.map";
    static final String PROFILE = "boot-profile";
    static final String STATUS = "status.json";
    static final String LOCK = "lock";
    static final int FORMAT = 1;

    /** What the state dir says about the image and the local disk it belongs to. */
    record Identity(String image, long size, long diskSize, int regionSize, String local, String localKey,
            boolean localCreated) {

        void writeTo(Path dir, Durability durability) throws IOException {
            Properties p = new Properties();
            p.setProperty("format", Integer.toString(FORMAT));
            p.setProperty("image", image);
            p.setProperty("size", Long.toString(size));
            p.setProperty("diskSize", Long.toString(diskSize));
            p.setProperty("regionSize", Integer.toString(regionSize));
            p.setProperty("local", local);
            p.setProperty("localKey", localKey);
            p.setProperty("localCreated", Boolean.toString(localCreated));
            StringWriter w = new StringWriter();
            p.store(w, "bmcast mediator state: do not edit");
            Path tmp = dir.resolve(IDENTITY + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer b = ByteBuffer.wrap(w.toString().getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) ch.write(b);
                durability.force(ch, tmp, true);
            }
            Files.move(tmp, dir.resolve(IDENTITY), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            durability.syncDirectory(dir);
        }

        static Identity readFrom(Path dir) throws IOException {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(dir.resolve(IDENTITY), StandardCharsets.UTF_8)) {
                p.load(r);
            }
            try {
                if (Integer.parseInt(p.getProperty("format", "0")) != FORMAT) {
                    throw new IOException("state dir " + dir + " has format " + p.getProperty("format")
                            + ", this mediator reads format " + FORMAT);
                }
                long size = Long.parseLong(p.getProperty("size"));
                return new Identity(p.getProperty("image", ""), size,
                        Long.parseLong(p.getProperty("diskSize", Long.toString(size))),
                        Integer.parseInt(p.getProperty("regionSize")), p.getProperty("local", ""),
                        p.getProperty("localKey", ""), Boolean.parseBoolean(p.getProperty("localCreated")));
            } catch (NumberFormatException | NullPointerException e) {
                throw new IOException("state dir " + dir + " has a damaged identity file " + IDENTITY, e);
            }
        }

        /** Throws, saying what differs, unless {@code other} (the state dir's) describes the same image and disk. */
        void check(Identity stored, Path dir, boolean blockDevice) throws IOException {
            if (!stored.image.equals(image) || stored.size != size) {
                throw new IOException("state dir " + dir + " belongs to image '" + stored.image + "' (" + stored.size
                        + " bytes), not to '" + image + "' (" + size + " bytes); use another state dir, or remove"
                        + " it (and the local disk's contents) to deploy this image afresh");
            }
            if (stored.regionSize != regionSize) {
                throw new IOException("state dir " + dir + " was made with " + stored.regionSize
                        + "-byte regions, not " + regionSize + "; keep the region size of a started deployment");
            }
            // A block device's inode lives in devtmpfs and changes at each boot: compare paths there.
            boolean sameDisk = blockDevice ? stored.local.equals(local) : stored.localKey.equals(localKey);
            if (!sameDisk) {
                throw new IOException("state dir " + dir + " describes the local disk " + stored.local + " ("
                        + stored.localKey + "), but the local disk given is " + local + " (" + localKey + "); its"
                        + " region map would not match that disk's contents");
            }
            if (stored.diskSize != diskSize) {
                // The map describes the image's regions only, but a disk of another size is another disk (or one
                // that was resized under the deployment): what the guest wrote past the image would not be there.
                throw new IOException("state dir " + dir + " was made for a local disk of " + stored.diskSize
                        + " bytes, but " + local + " is " + diskSize + " bytes; use the disk the deployment started"
                        + " on, or another state dir");
            }
        }
    }

    /** Takes the state dir's lock, or says who has it. The returned channel holds the lock until closed. */
    static FileChannel lock(Path dir) throws IOException {
        FileChannel ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            if (ch.tryLock() != null) return ch;
        } catch (java.nio.channels.OverlappingFileLockException e) {
            // held by this very JVM
        }
        ch.close();
        throw new IOException("state dir " + dir + " is in use by another mediator; two mediators over one disk"
                + " would corrupt it");
    }

    private StateDir() {}
}
