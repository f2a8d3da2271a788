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
                # Debian's initramfs hands over /proc, /sys, /dev and /run already mounted.
                mounted() { grep -q " $1 " /proc/mounts 2>/dev/null; }
                mounted /proc || mount -t proc proc /proc
                mounted /sys || mount -t sysfs sys /sys
                mounted /dev || mount -t devtmpfs dev /dev
                mkdir -p /dev/pts /run /tmp
                mounted /dev/pts || mount -t devpts devpts /dev/pts
                mounted /run || mount -t tmpfs run /run
                mount -o remount,rw / 2>/dev/null
                hostname bmcast-guest
                for m in /lib/modules/*/%s /lib/modules/*/%s; do [ -f "$m" ] && insmod "$m" 2>/dev/null; done
                [ -e /dev/input/event0 ] && acpid -l /run/acpid.log -p /run/acpid.pid
                echo
                echo %s
                if grep -qE '(^| )%s(=| |$)' /proc/cmdline; then
                  /sbin/bmcast-selfcheck "$(sed -n 's/.*%s=\\([A-Za-z0-9_-]*\\).*/\\1/p' /proc/cmdline)" > /dev/console 2>&1
                fi
                while true; do setsid cttyhack sh -l; done
                """.formatted(PowerButton.EVDEV, PowerButton.BUTTON, marker, GuestImage.SELF_CHECK_FLAG.replace(".", "[.]"),
                GuestImage.SELF_CHECK_FLAG.replace(".", "[.]"));
    }

    /**
     * What the guest does at boot when its kernel command line has {@link GuestImage#SELF_CHECK_FLAG}: a guest of
     * a fleet has no console to type into (the controller shows its console, read-only), so it checks itself. It
     * reads every test data file through its disk (streamed on demand), checks them against SHA256SUMS and prints
     * {@code bmcast-selfcheck: N of M files OK}. With {@code bmcast.selfcheck=TAG} it also writes
     * {@value #SELFCHECK_WRITE_MIB} MiB of the line {@code bmcast-selfcheck-wrote-TAG} to {@value #SELFCHECK_FILE}
     * and syncs before it prints (adding {@code , wrote TAG (K lines)}): the guest's own writes, which a destroy
     * must scrub away. The command line holds only TAG, so that line is found nowhere but where the guest wrote it.
     */
    static String selfCheckScript(String dataDir) {
        return """
                #!/bin/busybox sh
                # bmcast busybox guest self-check (bmcast.selfcheck[=TAG] on the kernel command line): see BusyboxRoot.
                tag="$1"
                cd %s || { echo "%s no data dir %s"; exit 1; }
                total=$(wc -l < %s)
                ok=$(sha256sum -c %s 2>&1 | grep -c ': OK$')
                wrote=
                if [ -n "$tag" ]; then
                  yes "bmcast-selfcheck-wrote-$tag" | head -c %d > %s && sync
                  wrote=", wrote $tag ($(grep -c "^bmcast-selfcheck-wrote-$tag$" %s) lines)"
                fi
                echo "%s $ok of $total files OK$wrote"
                """.formatted(dataDir, GuestImage.SELF_CHECK_LINE, dataDir, TestData.SUMS, TestData.SUMS, SELFCHECK_WRITE_MIB << 20,
                SELFCHECK_FILE, SELFCHECK_FILE, GuestImage.SELF_CHECK_LINE);
    }

    static final int SELFCHECK_WRITE_MIB = 4;
    static final String SELFCHECK_FILE = "/root/selfcheck.out";

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
        Path selfCheck = root.resolve("sbin/bmcast-selfcheck");
        Files.writeString(selfCheck, selfCheckScript(GuestBuilder.DATA_DIR));
        Files.setPosixFilePermissions(selfCheck, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path handler = root.resolve("etc/acpi/PWRF/00000080");
        Files.createDirectories(handler.getParent());
        Files.writeString(handler, POWER_BUTTON_HANDLER);
        Files.setPosixFilePermissions(handler, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "root:x:0:\n");
        Files.writeString(root.resolve("etc/profile"), "export PS1='# '\nexport PATH=/sbin:/bin:/usr/sbin:/usr/bin\n");
    }
}
