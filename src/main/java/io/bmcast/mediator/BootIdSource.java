package io.bmcast.mediator;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Identifies the current boot of the machine. A process crash keeps the boot id (and the page cache); a
 * reboot or power loss changes it (and loses the page cache). Injectable so tests can play both crashes.
 */
@FunctionalInterface
public interface BootIdSource {

    /** The current boot id, or {@code null} when unknown (then the live map is never trusted). */
    String bootId();

    /** Linux: {@code /proc/sys/kernel/random/boot_id}, a random UUID drawn at each boot. */
    BootIdSource LINUX = () -> {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return null;
        }
    };

    static BootIdSource fixed(String id) {
        return () -> id;
    }
}
