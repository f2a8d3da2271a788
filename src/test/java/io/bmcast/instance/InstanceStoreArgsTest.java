package io.bmcast.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.node.MediatorConfig;
import io.bmcast.util.UsageException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code instance run} as the agent calls it with an {@code s3://} image (the URI passed on unchanged from the
 * assignment) and the store options its mediator takes.
 */
class InstanceStoreArgsTest {
    @Test
    void anS3ImageAndTheStoreOptionsReachTheMediatorsSettings() {
        Instance.Spec s = run("--image", "s3://images/fleet/busybox?endpoint=http%3A%2F%2F127.0.0.1%3A9000", "--disk", "/tmp/d.img",
                "--state", "/tmp/st", "--region", "eu-west-1", "--chunk-cache", "/var/cache/bmcast/chunks", "--cache-size", "5G",
                "--peers", "/tmp/st/peers.properties", "--store-concurrency", "3", "--inject-corrupt", "0.01",
                "--chunk-socket", "/tmp/st/chunks.sock").spec();
        assertTrue(s.image().isStore());
        assertEquals("s3://images/fleet/busybox", s.image().display());
        assertEquals("http://127.0.0.1:9000", s.image().store().endpoint().toString());
        assertEquals("eu-west-1", s.image().store().region());
        assertEquals(new MediatorConfig.Store(Path.of("/var/cache/bmcast/chunks"), 5L << 30, Path.of("/tmp/st/peers.properties"), 3, 0.01,
                null, Path.of("/tmp/st/chunks.sock")), s.store(), "the chunk socket reaches the mediator, which serves its chunks there");
        // Defaults: no cache, 20G if one is given, 8 at the store.
        Instance.Spec d = run("--image", "s3://images/fleet/busybox", "--endpoint", "http://10.0.0.5:9000", "--disk", "/tmp/d.img",
                "--state", "/tmp/st").spec();
        assertEquals("http://10.0.0.5:9000", d.image().store().endpoint().toString());
        assertEquals(MediatorConfig.Store.DEFAULTS, d.store());
    }

    @Test
    void storeOptionsThatCannotWorkAreOneSentence() {
        UsageException nbd = assertThrows(UsageException.class, () -> run("--image", "nbd+unix:///img?socket=/tmp/x.sock",
                "--endpoint", "http://10.0.0.5:9000", "--disk", "/tmp/d.img", "--state", "/tmp/st").spec());
        assertTrue(nbd.getMessage().startsWith("--endpoint and --region are for an s3:// image"), nbd.getMessage());
        UsageException rate = assertThrows(UsageException.class, () -> run("--image", "s3://bkt/p/n", "--inject-corrupt", "2",
                "--disk", "/tmp/d.img", "--state", "/tmp/st").spec());
        assertTrue(rate.getMessage().startsWith("--inject-corrupt is a share from 0 to 1"), rate.getMessage());
        CommandLine.ParameterException bad = assertThrows(CommandLine.ParameterException.class, () -> run("--image", "s3://bucket-only",
                "--disk", "/tmp/d.img", "--state", "/tmp/st"));
        assertTrue(bad.getMessage().contains("names no image: write s3://BUCKET/PREFIX/NAME"), bad.getMessage());
    }

    private static InstanceCommand.Run run(String... args) {
        InstanceCommand.Run run = new InstanceCommand.Run();
        new CommandLine(run).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(args);
        return run;
    }
}
