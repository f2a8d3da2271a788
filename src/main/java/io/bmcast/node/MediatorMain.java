package io.bmcast.node;

import io.bmcast.util.FailureMessage;
import io.bmcast.util.LogFormat;
import io.bmcast.util.UsageException;
import java.nio.file.Path;

/**
 * The mediator's JVM as {@code instance run} starts it ({@code NodeProcess}): {@code MediatorMain STATE/node.properties}.
 *
 * <p>Why not {@code bmcast node --image ...}: the mediator starts once per deployment, between the operator's
 * command and the guest's boot. picocli is compiled for Java 5, so neither a class-data archive nor an AOT cache
 * can hold its classes, and parsing a command line with it loaded and verified ~180 classes on every start
 * (~150-220 ms here). This entry point reads a {@link MediatorConfig} and loads nothing of the CLI.
 *
 * <p>Its output is {@code bmcast node}'s: the same {@code node: ...} lines, and a failure as one line
 * {@code bmcast: ...} with exit code 1 (2 for settings that cannot work); 0 after SIGTERM.
 */
public final class MediatorMain {
    private MediatorMain() {}

    public static void main(String[] args) {
        LogFormat.oneLinePerRecord();
        System.exit(run(args));
    }

    private static int run(String[] args) {
        if (args.length != 1) {
            System.err.println("bmcast: usage: MediatorMain CONFIG (a mediator's settings, as instance run writes them)");
            return 2;
        }
        try {
            return Mediator.run(MediatorConfig.read(Path.of(args[0])), System.err);
        } catch (UsageException e) {
            // As bmcast's command line words a usage error: "region size must be ...", lower case inside the line.
            String line = FailureMessage.oneLine(e.getMessage());
            if (!line.isEmpty() && !line.startsWith("QEMU")) line = Character.toLowerCase(line.charAt(0)) + line.substring(1);
            System.err.println("bmcast: " + line);
            return 2;
        } catch (Exception | OutOfMemoryError e) {
            System.err.println("bmcast: " + FailureMessage.of(e));
            if (System.getenv("BMCAST_DEBUG") != null) e.printStackTrace();
            return 1;
        }
    }
}
