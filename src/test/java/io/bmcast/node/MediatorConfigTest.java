package io.bmcast.node;

import static org.junit.jupiter.api.Assertions.*;

import io.bmcast.transport.NbdUri;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mediator's settings file: the hydration settings survive the round trip, and older files still read. */
class MediatorConfigTest {
    @TempDir
    Path tmp;

    @Test
    void hydrationSettingsRoundTrip() throws Exception {
        MediatorConfig c = new MediatorConfig(NbdUri.parse("nbd://images:10809/busybox"), tmp.resolve("disk"), tmp,
                tmp.resolve("sock"), 65536, 0, Duration.ofSeconds(60), null, null,
                new MediatorConfig.Hydration(0.35, Duration.ofMinutes(10), true));
        Path f = tmp.resolve("node.properties");
        c.write(f);
        assertEquals(c, MediatorConfig.read(f));
        MediatorConfig remote = new MediatorConfig(c.image(), c.disk(), c.state(), c.socket(), 65536, 0, c.giveUp(), null,
                null, new MediatorConfig.Hydration(0.2, null, false));
        remote.write(f);
        assertFalse(MediatorConfig.read(f).hydration().background());
    }

    @Test
    void aFileWrittenBeforeTheHydrationSettingsReadsWithTheDefaults() throws Exception {
        Path f = tmp.resolve("node.properties");
        Files.writeString(f, """
                image=nbd\\://images\\:10809/busybox
                disk=/d/disk.img
                state=/d/state
                socket=/d/sock
                regionSize=65536
                hydrateRate=0
                giveUp=PT1M
                """);
        assertEquals(MediatorConfig.Hydration.DEFAULTS, MediatorConfig.read(f).hydration());
    }
}
