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

    /**
     * The process's arguments joined by spaces, read from {@code /proc} ({@link ProcessHandle.Info#commandLine} is
     * not reliable for long command lines such as a JVM's class path), or "" when there is no such process.
     */
    static String commandLine(long pid) {
        try {
            byte[] b = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            return new String(b, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ').strip();
        } catch (IOException e) {
            return "";
        }
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

    /** Every pid under {@code /proc}. */
    static List<Long> pids() throws IOException {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().chars().allMatch(Character::isDigit))) {
            for (Path p : d) out.add(Long.parseLong(p.getFileName().toString()));
        }
        return out;
    }

    /**
     * The process's environment as "NAME=value" entries, each preceded and followed by a NUL, so
     * {@code contains("\0" + NAME + "=" + value + "\0")} is an exact test; "" when it cannot be read.
     */
    static String environment(long pid) {
        try {
            byte[] b = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
            return "\0" + new String(b, java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
