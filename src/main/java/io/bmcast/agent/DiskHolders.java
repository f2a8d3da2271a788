package io.bmcast.agent;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who still holds the machine's disk, as the kernel tells it: a process with a descriptor or a mapping on it
 * ({@code /proc/PID/fd}, {@code /proc/PID/maps}), and for a device the kernel's own holders (a mount, a
 * device-mapper or md device above it), for a file a loop device backed by it. A scrub is refused while any
 * holder is left: a tenant process that still has the disk open could write after the wipe, or read what the
 * next tenant writes.
 *
 * <p>A file is matched by device and inode (so another name for it, or a deleted one, still counts); a block
 * device by its device number and those of its partitions (so {@code /dev/sdb1} open counts for {@code /dev/sdb}).
 * The agent's own process is left out: its only descriptors on the disk are the scrub's.
 */
final class DiskHolders {
    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;
    private static final int CMDLINE_SHOWN = 120;

    private DiskHolders() {}

    /** What the disk is, in the kernel's numbers. */
    private record Target(Path real, boolean block, long dev, long ino, Set<Long> rdevs) {
        boolean matches(Map<String, Object> a) {
            int mode = (Integer) a.get("mode");
            if (block) return (mode & S_IFMT) == S_IFBLK && rdevs.contains((Long) a.get("rdev"));
            return (Long) a.get("dev") == dev && (Long) a.get("ino") == ino;
        }
    }

    /** Every holder of {@code disk}, each as "open by pid N (command)", "mounted at DIR" and so on; empty when none. */
    static List<String> find(Path disk) throws IOException {
        Target t = target(disk);
        List<String> out = new ArrayList<>();
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path p : d) {
                long pid = Long.parseLong(p.getFileName().toString());
                if (pid == self || !Proc.running(pid)) continue;
                if (hasOpen(p, t) || hasMapped(p, t)) out.add("open by pid " + pid + " (" + shown(pid) + ")");
            }
        }
        if (t.block()) out.addAll(kernelHolders(t));
        else out.addAll(loopDevicesOver(t));
        return out;
    }

    private static Target target(Path disk) throws IOException {
        Path real = disk.toRealPath();
        Map<String, Object> a = Files.readAttributes(real, "unix:mode,dev,ino,rdev");
        boolean block = ((Integer) a.get("mode") & S_IFMT) == S_IFBLK;
        Set<Long> rdevs = new HashSet<>();
        if (block) {
            long rdev = (Long) a.get("rdev");
            rdevs.add(rdev);
            for (Path part : partitions(rdev)) {
                Long r = devNumber(part.resolve("dev"));
                if (r != null) rdevs.add(r);
            }
        }
        return new Target(real, block, (Long) a.get("dev"), (Long) a.get("ino"), rdevs);
    }

    private static boolean hasOpen(Path proc, Target t) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
            for (Path fd : fds) {
                try {
                    // Follows the magic link to the open file itself, deleted or not.
                    if (t.matches(Files.readAttributes(fd, "unix:mode,dev,ino,rdev"))) return true;
                } catch (IOException gone) {
                    // closed meanwhile, or a descriptor with nothing to stat (an anon inode)
                }
            }
        } catch (IOException gone) {
            // the process ended, or is not ours to look at
        }
        return false;
    }

    /**
     * A mapping outlives the descriptor it was made from: "start-end perms offset MAJ:MIN inode path", the numbers
     * of the file mapped (for a device, of its node under /dev).
     */
    private static boolean hasMapped(Path proc, Target t) {
        String want = Long.toHexString(major(t.dev())) + ":" + Long.toHexString(minor(t.dev()));
        String ino = Long.toString(t.ino());
        try {
            for (String line : Files.readAllLines(proc.resolve("maps"))) {
                String[] f = line.split("\\s+", 6);
                if (f.length >= 5 && f[4].equals(ino) && stripZeros(f[3]).equals(want)) return true;
            }
        } catch (IOException gone) {
            // the process ended
        }
        return false;
    }

    private static String stripZeros(String majMin) {
        int colon = majMin.indexOf(':');
        if (colon < 0) return majMin;
        return Long.toHexString(Long.parseLong(majMin.substring(0, colon), 16)) + ":"
                + Long.toHexString(Long.parseLong(majMin.substring(colon + 1), 16));
    }

    /** Mounts of the device or a partition, and device-mapper or md devices built on them. */
    private static List<String> kernelHolders(Target t) {
        List<String> out = new ArrayList<>();
        Set<String> numbers = new HashSet<>();
        for (long r : t.rdevs()) numbers.add(major(r) + ":" + minor(r));
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ", 6);
                if (f.length >= 5 && numbers.contains(f[2])) out.add("mounted at " + f[4]);
            }
        } catch (IOException e) {
            // no mountinfo: not Linux as we know it; the O_EXCL open of the wipe still refuses a mounted device
        }
        for (String n : numbers) {
            try (DirectoryStream<Path> h = Files.newDirectoryStream(Path.of("/sys/dev/block", n, "holders"))) {
                for (Path holder : h) out.add("held by the kernel's " + holder.getFileName() + " (a device-mapper or md device on it)");
            } catch (IOException none) {
                // no holders directory
            }
        }
        return out;
    }

    /** Loop devices whose backing file is the disk file (the kernel holds it open without any process). */
    private static List<String> loopDevicesOver(Target t) {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/sys/block"), "loop*")) {
            for (Path loop : d) {
                Path backing = loop.resolve("loop/backing_file");
                if (!Files.exists(backing)) continue;
                try {
                    String b = Files.readString(backing).strip();
                    if (b.equals(t.real().toString()) || b.equals(t.real() + " (deleted)")) {
                        out.add("the backing file of /dev/" + loop.getFileName());
                    }
                } catch (IOException gone) {
                    // detached meanwhile
                }
            }
        } catch (IOException e) {
            // no /sys/block: no loop devices to worry about
        }
        return out;
    }

    private static List<Path> partitions(long rdev) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/sys/dev/block", major(rdev) + ":" + minor(rdev)))) {
            for (Path p : d) if (Files.exists(p.resolve("partition"))) out.add(p);
        } catch (IOException e) {
            // not in sysfs: no partitions known
        }
        return out;
    }

    /** A sysfs "MAJ:MIN" file as a dev_t in glibc's encoding (the one {@code unix:rdev} gives). */
    private static Long devNumber(Path file) {
        try {
            String[] mm = Files.readString(file).strip().split(":");
            long maj = Long.parseLong(mm[0]), min = Long.parseLong(mm[1]);
            return ((maj & 0xfffL) << 8) | ((maj & ~0xfffL) << 32) | (min & 0xffL) | ((min & ~0xffL) << 12);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static long major(long dev) {
        return ((dev >>> 8) & 0xfffL) | ((dev >>> 32) & ~0xfffL);
    }

    static long minor(long dev) {
        return (dev & 0xffL) | ((dev >>> 12) & ~0xffL);
    }

    /** The process's command line, clipped, or its name when it has none (a kernel thread). */
    static String shown(long pid) {
        String c = Proc.commandLine(pid);
        if (c.isEmpty()) {
            try {
                c = Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip();
            } catch (IOException e) {
                c = "?";
            }
        }
        return c.length() <= CMDLINE_SHOWN ? c : c.substring(0, CMDLINE_SHOWN) + " ...";
    }
}
