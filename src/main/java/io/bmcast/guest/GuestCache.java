package io.bmcast.guest;

import java.nio.file.Path;

/** Where built guests (and other reusable artefacts) live: {@code $BMCAST_CACHE}, else the XDG cache dir. */
public final class GuestCache {
    private GuestCache() {}

    public static Path root() {
        String explicit = System.getenv("BMCAST_CACHE");
        if (explicit != null && !explicit.isBlank()) return Path.of(explicit);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("bmcast");
    }
}
