package io.bmcast.guest;

import java.util.Locale;

/** The sample guests bmcast can build from this machine's Debian packages. */
public enum GuestKind {
    /** busybox-static and a shell script as init: boots in about 3 s under TCG, gives a shell on ttyS0. */
    BUSYBOX,
    /** debootstrap minbase bookworm with systemd: a real distribution boot, about 8-10 s under TCG. */
    DEBIAN;

    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static GuestKind parse(String s) {
        for (GuestKind k : values()) if (k.id().equals(s)) return k;
        throw new IllegalArgumentException("unknown guest kind '" + s + "' (busybox or debian)");
    }
}
