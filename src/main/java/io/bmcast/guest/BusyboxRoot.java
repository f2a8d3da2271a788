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
 *
 * <p>The ACPI power button (QMP {@code system_powerdown}: how an instance is destroyed gracefully) powers the guest
 * off: init loads the {@link PowerButton} modules and starts busybox {@code acpid}, which turns {@code KEY_POWER} into the action {@code PWRF/00000080} and runs the file of
 * that name under {@code /etc/acpi}. That handler syncs, remounts the root read-only and powers off ({@code -f}: a
 * shell script as PID 1 does not act on busybox {@code poweroff}'s signal).
 *
 * <p>With {@link GuestImage#SELF_CHECK_FLAG} on its kernel command line the guest checks its data files against
 * their checksums by itself at boot and prints the verdict on its console: a fleet's guests can be checked from
 * their console logs alone, with nobody typing into them.
 */
final class BusyboxRoot {
    private BusyboxRoot() {}

    static final List<Path> BUSYBOX_CANDIDATES = List.of(Path.of("/bin/busybox"), Path.of("/usr/bin/busybox"));

    static String initScript(String marker) {
        return """
                #!/bin/busybox sh
                # bmcast busybox guest init: mount the API filesystems, listen to the power button, announce
                # readiness, serve a shell on ttyS0. /run is a tmpfs: acpid's files there keep no file on the root
                # open for writing, which would make a remount read-only fail.
                export PATH=/sbin:/bin:/usr/sbin:/usr/bin
                mount -t proc proc /proc
                mount -t sysfs sys /sys
                mount -t devtmpfs dev /dev 2>/dev/null
                mkdir -p /dev/pts /run /tmp
                mount -t devpts devpts /dev/pts
                mount -t tmpfs run /run
                mount -o remount,rw / 2>/dev/null
                hostname bmcast-guest
                for m in /lib/modules/*/%s /lib/modules/*/%s; do [ -f "$m" ] && insmod "$m" 2>/dev/null; done
                [ -e /dev/input/event0 ] && acpid -l /run/acpid.log -p /run/acpid.pid
                if grep -q %s /proc/cmdline; then
                  (cd %s && ok=$(sha256sum -c %s 2>/dev/null | grep -c ': OK$') && echo "%s $ok of $(wc -l < %s) files OK" > /dev/console) &
                fi
                echo
                echo %s
                while true; do setsid cttyhack sh -l; done
                """.formatted(PowerButton.EVDEV, PowerButton.BUTTON, GuestImage.SELF_CHECK_FLAG, GuestBuilder.DATA_DIR,
                TestData.SUMS, GuestImage.SELF_CHECK_LINE, TestData.SUMS, marker);
    }

    /** The power button's handler: busybox acpid runs {@code /etc/acpi/PWRF/00000080} on {@code KEY_POWER}. */
    static final String POWER_BUTTON_HANDLER = """
            #!/bin/sh
            # The ACPI power button (an instance being destroyed): flush, stop writing, power off.
            echo "bmcast-guest: power button pressed, powering off" > /dev/console
            sync
            mount -o remount,ro / 2>/dev/null
            poweroff -f
            """;


    static void populate(Path root, String marker, HostKernel kernel) throws IOException {
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
        PowerButton.copyModules(root, kernel, false); // init loads them by path
        Path handler = root.resolve("etc/acpi/PWRF/00000080");
        Files.createDirectories(handler.getParent());
        Files.writeString(handler, POWER_BUTTON_HANDLER);
        Files.setPosixFilePermissions(handler, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "root:x:0:\n");
        Files.writeString(root.resolve("etc/profile"), "export PS1='# '\nexport PATH=/sbin:/bin:/usr/sbin:/usr/bin\n");
    }
}
