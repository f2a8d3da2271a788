package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What a sample guest needs to hear the ACPI power button (QMP {@code system_powerdown}: how an instance is
 * destroyed gracefully). The Debian cloud kernel has the button driver and the event device interface as modules
 * ({@code button.ko}, {@code evdev.ko}, no dependencies), and a guest root built from packages carries no kernel
 * modules: they are copied from the host's {@code /lib/modules}, for the very kernel the guest boots.
 */
final class PowerButton {
    private PowerButton() {}

    /** The modules, relative to {@code /lib/modules/VERSION}. */
    static final String EVDEV = "kernel/drivers/input/evdev.ko";
    static final String BUTTON = "kernel/drivers/acpi/button.ko";

    /**
     * Copies the two modules into the same place under {@code root}; with {@code depmod}, also their index, so that
     * udev and {@code modprobe} find them by name. A kernel without them as modules (built in, or another kernel
     * given by {@code BMCAST_KERNEL}) gets none. Returns true when both were copied.
     */
    static boolean copyModules(Path root, HostKernel kernel, boolean depmod) throws IOException {
        Path modules = Path.of("/lib/modules", kernel.version());
        int copied = 0;
        for (String m : List.of(EVDEV, BUTTON)) {
            Path from = modules.resolve(m);
            if (!Files.isReadable(from)) continue;
            Path to = root.resolve("lib/modules").resolve(kernel.version()).resolve(m);
            Files.createDirectories(to.getParent());
            Files.copy(from, to);
            copied++;
        }
        if (copied > 0 && depmod) {
            HostCommand.run(Duration.ofMinutes(1), List.of("depmod", "-b", root.toString(), kernel.version()));
        }
        return copied == 2;
    }
}
