package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Root tree of the Debian guest: {@code debootstrap --variant=minbase bookworm} plus systemd, from the mirror this
 * host's apt already uses (so the build needs no other network access). Root logs in automatically on ttyS0 and a
 * oneshot unit ordered after {@code multi-user.target} prints the ready marker to the console: that is the moment
 * a user would call the instance "up".
 *
 * <p>The ACPI power button powers it off as on any Debian system: systemd-logind handles {@code KEY_POWER}. That
 * takes the {@link PowerButton} modules (loaded at boot through {@code modules-load.d}) and a system bus, which
 * minbase leaves out ({@code dbus} is only recommended by systemd): without them the button went unheard.
 */
final class DebianRoot {
    private DebianRoot() {}

    static final String SUITE = "bookworm";

    static void populate(Path root, String marker, HostKernel kernel) throws IOException {
        populate(root, marker, kernel, List.of());
    }

    /**
     * As {@link #populate(Path, String, HostKernel)} with {@code extraPackages} installed as well. Their maintainer
     * scripts may try to start services (PostgreSQL's does): a two-stage debootstrap with a {@code policy-rc.d}
     * that forbids it in between keeps every daemon from starting inside the build tree.
     */
    static void populate(Path root, String marker, HostKernel kernel, List<String> extraPackages) throws IOException {
        String mirror = aptMirror();
        Files.createDirectories(root);
        String include = "--include=" + String.join(",", concat(List.of("systemd-sysv", "udev", "dbus"), extraPackages));
        // debootstrap refuses a non-empty target and needs root; both are the caller's to satisfy.
        if (extraPackages.isEmpty()) {
            HostCommand.run(Duration.ofMinutes(30), List.of("debootstrap", "--variant=minbase", include, SUITE,
                    root.toString(), mirror));
        } else {
            HostCommand.run(Duration.ofMinutes(30), List.of("debootstrap", "--foreign", "--variant=minbase", include,
                    SUITE, root.toString(), mirror));
            Path policy = root.resolve("usr/sbin/policy-rc.d");
            Files.createDirectories(policy.getParent());
            Files.writeString(policy, "#!/bin/sh\n# bmcast build: start no service inside the build tree\nexit 101\n");
            policy.toFile().setExecutable(true);
            try {
                HostCommand.run(Duration.ofMinutes(30), List.of("chroot", root.toString(), "/debootstrap/debootstrap",
                        "--second-stage"));
            } finally {
                Files.deleteIfExists(policy);
            }
        }
        if (PowerButton.copyModules(root, kernel, true)) {
            Files.createDirectories(root.resolve("etc/modules-load.d"));
            Files.writeString(root.resolve("etc/modules-load.d/bmcast-power-button.conf"), "evdev\nbutton\n");
        }
        Path units = root.resolve("etc/systemd/system");
        Files.createDirectories(units.resolve("multi-user.target.wants"));
        Files.writeString(units.resolve("bmcast-ready.service"), """
                [Unit]
                Description=bmcast: announce that the instance reached multi-user.target
                After=multi-user.target

                [Service]
                Type=oneshot
                ExecStart=/bin/sh -c 'echo; echo %s'
                StandardOutput=tty
                TTYPath=/dev/ttyS0

                [Install]
                WantedBy=multi-user.target
                """.formatted(marker));
        Files.createSymbolicLink(units.resolve("multi-user.target.wants/bmcast-ready.service"),
                Path.of("/etc/systemd/system/bmcast-ready.service"));
        Path getty = units.resolve("serial-getty@ttyS0.service.d");
        Files.createDirectories(getty);
        Files.writeString(getty.resolve("autologin.conf"), """
                [Service]
                ExecStart=
                ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
                """);
        Files.writeString(root.resolve("etc/hostname"), "bmcast-debian\n");
        Files.writeString(root.resolve("etc/fstab"), "# root is mounted rw by the kernel (root=... rw)\n");
        // Empty root password: the console is the only way in, and tests drive it.
        Path shadow = root.resolve("etc/shadow");
        Files.writeString(shadow, Files.readString(shadow).replaceFirst("(?m)^root:[^:]*:", "root::"));
        HostCommand.run(Duration.ofMinutes(2), List.of("rm", "-rf", root.resolve("var/cache/apt/archives").toString()));
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** The Debian mirror URI from {@code /etc/apt/sources.list} or {@code sources.list.d} (one-line or deb822). */
    static String aptMirror() throws IOException {
        List<Path> files = new ArrayList<>();
        Path main = Path.of("/etc/apt/sources.list");
        if (Files.exists(main)) files.add(main);
        Path d = Path.of("/etc/apt/sources.list.d");
        if (Files.isDirectory(d)) {
            try (Stream<Path> s = Files.list(d)) {
                s.filter(p -> p.toString().endsWith(".list") || p.toString().endsWith(".sources")).sorted()
                        .forEach(files::add);
            }
        }
        Pattern oneLine = Pattern.compile("(?m)^\\s*deb\\s+(?:\\[[^]]*]\\s+)?(\\S+)\\s+" + SUITE + "\\s");
        Pattern deb822 = Pattern.compile("(?m)^URIs:\\s*(\\S+)");
        for (Path f : files) {
            String text = Files.readString(f);
            Matcher m = oneLine.matcher(text);
            if (m.find()) return m.group(1);
            for (String stanza : text.split("\\n\\s*\\n")) {
                Matcher suites = Pattern.compile("(?m)^Suites:(.*)$").matcher(stanza);
                if (!suites.find() || !List.of(suites.group(1).trim().split("\\s+")).contains(SUITE)) continue;
                Matcher u = deb822.matcher(stanza);
                if (u.find()) return u.group(1);
            }
        }
        throw new IOException("no Debian " + SUITE + " mirror found in /etc/apt/sources.list*");
    }
}
