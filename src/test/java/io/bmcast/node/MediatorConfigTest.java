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
        MediatorConfig remote = new MediatorConfig(c.image().nbd(), c.disk(), c.state(), c.socket(), 65536, 0, c.giveUp(), null,
                null, new MediatorConfig.Hydration(0.2, null, false));
        remote.write(f);
        assertFalse(MediatorConfig.read(f).hydration().background());
    }

    @Test
    void aStoreImageAndItsSettingsRoundTrip() throws Exception {
        io.bmcast.imagestore.ImageUri img = io.bmcast.imagestore.ImageUri.parse("s3://bkt/fleet/busybox?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1");
        MediatorConfig c = new MediatorConfig(img, tmp.resolve("disk"), tmp, tmp.resolve("sock"), 65536, 0, Duration.ofSeconds(60),
                null, null, MediatorConfig.Hydration.DEFAULTS, null, false,
                new MediatorConfig.Store(tmp.resolve("cache"), 1L << 30, tmp.resolve("peers"), 3, 0.25, "AB".repeat(32), tmp.resolve("chunks.sock")));
        assertEquals("ab".repeat(32), c.store().manifestSha256(), "the pin as given, in the digest's own form");
        Path f = tmp.resolve("node.properties");
        c.write(f);
        MediatorConfig back = MediatorConfig.read(f);
        assertEquals(c, back);
        assertEquals("http://127.0.0.1:9000", back.image().store().endpoint().toString());
        // An NBD image's file has none of the store's keys: the defaults.
        new MediatorConfig(NbdUri.parse("nbd://images:10809/busybox"), tmp.resolve("disk"), tmp, tmp.resolve("sock"), 65536, 0,
                Duration.ofSeconds(60), null, null).write(f);
        assertEquals(MediatorConfig.Store.DEFAULTS, MediatorConfig.read(f).store());
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
