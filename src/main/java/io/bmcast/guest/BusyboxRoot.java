package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/**
 * Root tree of the busybox guest: the static busybox from Debian's busybox-static, one symlink per applet, and
 * {@code /sbin/init} as a shell script. The script respawns the console shell so an {@code exit} typed by a test
 * never kills PID 1 (which would panic the kernel).
 */
final class BusyboxRoot {
    private BusyboxRoot() {}

    static final List<Path> BUSYBOX_CANDIDATES = List.of(Path.of("/bin/busybox"), Path.of("/usr/bin/busybox"));

    static String initScript(String marker) {
        return """
                #!/bin/busybox sh
                # bmcast busybox guest init: mount the API filesystems, announce readiness, serve a shell on ttyS0.
                export PATH=/sbin:/bin:/usr/sbin:/usr/bin
                mount -t proc proc /proc
                mount -t sysfs sys /sys
                mount -t devtmpfs dev /dev 2>/dev/null
                mkdir -p /dev/pts /run /tmp
                mount -t devpts devpts /dev/pts
                mount -o remount,rw / 2>/dev/null
                hostname bmcast-guest
                echo
                echo %s
                while true; do setsid cttyhack sh -l; done
                """.formatted(marker);
    }

    static void populate(Path root, String marker) throws IOException {
        Path busybox = BUSYBOX_CANDIDATES.stream().filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new IOException("no static busybox: apt-get install busybox-static"));
        for (String d : List.of("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "tmp", "etc",
                "root", "mnt")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.copy(busybox, root.resolve("bin/busybox"));
        Files.setPosixFilePermissions(root.resolve("bin/busybox"), PosixFilePermissions.fromString("rwxr-xr-x"));
        String list = HostCommand.run(Duration.ofSeconds(30), List.of(busybox.toString(), "--list-full")).output();
        for (String applet : list.split("\n")) {
            applet = applet.strip();
            if (applet.isEmpty() || applet.equals("bin/busybox")) continue;
            Path link = root.resolve(applet);
            Files.createDirectories(link.getParent());
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(link, Path.of("/bin/busybox"));
            }
        }
        Path init = root.resolve("sbin/init");
        Files.deleteIfExists(init);
        Files.writeString(init, initScript(marker));
        Files.setPosixFilePermissions(init, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "root:x:0:\n");
        Files.writeString(root.resolve("etc/profile"), "export PS1='# '\nexport PATH=/sbin:/bin:/usr/sbin:/usr/bin\n");
    }
}
