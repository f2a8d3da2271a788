package io.bmcast.agent;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Process liveness as {@code /proc} tells it. {@link ProcessHandle#isAlive} counts a zombie as alive, and a
 * zombie is what an orphaned instance leaves on a host whose PID 1 does not reap (containers, micro-VMs): a
 * dead instance must not be supervised forever, and a zombie QEMU holds no disk.
 */
final class Proc {
    private Proc() {}

    /** The process's state letter and process group, or null when there is no such process. */
    record Stat(char state, long pgrp) {
        boolean running() {
            return state != 'Z' && state != 'X';
        }
    }

    static Stat stat(long pid) {
        String s;
        try {
            s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        } catch (IOException e) {
            return null;
        }
        // "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses, so parse after the last ')'.
        int close = s.lastIndexOf(')');
        if (close < 0) return null;
        String[] f = s.substring(close + 2).split(" ");
        if (f.length < 3) return null;
        return new Stat(f[0].charAt(0), Long.parseLong(f[2]));
    }

    static boolean running(long pid) {
        Stat st = stat(pid);
        return st != null && st.running();
    }

    /** The running (not zombie) processes of process group {@code pgid}. */
    static List<Long> groupMembers(long pgid) throws IOException {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path p : d) {
                long pid = Long.parseLong(p.getFileName().toString());
                Stat st = stat(pid);
                if (st != null && st.pgrp() == pgid && st.running()) out.add(pid);
            }
        }
        return out;
    }
}
