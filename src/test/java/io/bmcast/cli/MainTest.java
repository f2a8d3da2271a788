package io.bmcast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.bmcast.util.FailureMessage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line as a new user meets it, run in this JVM: help, refusals and their sentences, exit codes. */
public class MainTest {
    @TempDir
    Path tmp;

    public record Run(int rc, String out, String err) {}

    /** The CLI as a person runs it, in this JVM (so it sees this JVM's system properties). */
    public static Run bmcast(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Every command and sub-command, as the words after {@code bmcast}. */
    static List<List<String>> allCommands() {
        List<List<String>> all = new ArrayList<>();
        collect(Main.commandLine(System.out, System.err), List.of(), all);
        return all;
    }

    private static void collect(CommandLine cl, List<String> path, List<List<String>> all) {
        all.add(path);
        cl.getSubcommands().forEach((name, sub) -> {
            List<String> p = new ArrayList<>(path);
            p.add(name);
            collect(sub, p, all);
        });
    }

    @Test
    void everyCommandAnswersHelp() {
        List<List<String>> commands = allCommands();
        assertTrue(commands.size() >= 14, commands.toString());
        for (List<String> command : commands) {
            for (String flag : List.of("--help", "-h")) {
                List<String> args = new ArrayList<>(command);
                args.add(flag);
                Run r = bmcast(args.toArray(String[]::new));
                String words = String.join(" ", args);
                assertEquals(0, r.rc(), words + "\n" + r.err());
                String usage = ("Usage: bmcast " + String.join(" ", command)).strip();
                assertTrue(r.out().contains(usage), words + ":\n" + r.out());
                assertEquals("", r.err(), words);
            }
        }
    }

    @Test
    void aDuplicatedFlagIsRefusedEverywhere() {
        String[][] cases = {
            {"vm", "boot", "busybox", "--memory", "1G", "--memory=2G"},
            {"node", "--state", "a", "--state", "b"},
            {"node", "status", "--state", "a", "--state=b"},
            {"demo", "--keep", "--keep"},
            {"serve-file", "f", "--rate", "1Gbit", "--rate", "2Gbit"},
            {"instance", "run", "--image", "nbd://h/x", "--disk", "d", "--state", "s", "--device", "nvme", "--device", "virtio"},
        };
        for (String[] c : cases) {
            Run r = bmcast(c);
            assertEquals(2, r.rc(), String.join(" ", c));
            assertTrue(r.err().contains("should be specified only once"), r.err());
            assertOneSentence(r.err());
        }
    }

    @Test
    void unitsMeanTheSameEverywhereAndAmbiguityIsRefused() {
        Run rate = bmcast("demo", "--rate", "1G");
        assertEquals(2, rate.rc());
        assertTrue(rate.err().contains("ambiguous") && rate.err().contains("1Gbit") && rate.err().contains("1GiB/s"), rate.err());
        Run latency = bmcast("image-server", "--dir", tmp.toString(), "--socket", "s", "--latency=200");
        assertEquals(2, latency.rc());
        assertTrue(latency.err().contains("200us"), latency.err());
        // vm boot's --memory is a size, as instance run's: 512M is no longer a number it cannot read.
        Run memory = bmcast("vm", "boot", tmp.toString(), "--memory", "512M", "--device", "virtio", "--disk", "d");
        assertEquals(2, memory.rc());
        assertFalse(memory.err().contains("For input string"), memory.err());
        assertTrue(memory.err().contains("guest dir"), memory.err());
        Run tooSmall = bmcast("vm", "boot", tmp.toString(), "--memory=512");
        assertTrue(tooSmall.err().contains("--memory must be between 64M and 1T"), tooSmall.err());
        Run bus = bmcast("vm", "boot", "busybox", "--bus", "nvme");
        assertEquals(2, bus.rc());
        assertTrue(bus.err().contains("unknown option") && bus.err().contains("--bus"), bus.err());
    }

    @Test
    void errorsAreOneSentenceWithTheRightExitCode() throws Exception {
        Path file = Files.writeString(tmp.resolve("a.img"), "x");
        Run host = bmcast("serve-file", file.toString(), "--listen", "no-such-host.invalid:10809");
        assertEquals(2, host.rc(), host.err());
        assertTrue(host.err().contains("cannot resolve the host name 'no-such-host.invalid'"), host.err());
        assertFalse(host.err().contains("null"), host.err());

        Run status = bmcast("node", "status", "--state=" + tmp.resolve("none"));
        assertEquals(2, status.rc());
        assertTrue(status.err().startsWith("bmcast: no state dir "), status.err());

        Run nothing = bmcast("node");
        assertEquals(2, nothing.rc());
        assertTrue(nothing.err().contains("--image URI") && nothing.err().contains("status"), nothing.err());

        Run unknown = bmcast("nope");
        assertEquals(2, unknown.rc());
        assertTrue(unknown.err().startsWith("bmcast: unknown command 'nope'"), unknown.err());

        // a typo'd command followed by more words is named the same way, at the top and under a command
        Run typo = bmcast("nod", "ls");
        assertEquals(2, typo.rc());
        assertTrue(typo.err().startsWith("bmcast: unknown command 'nod' (see 'bmcast --help')"), typo.err());
        Run subTypo = bmcast("token", "revok", "tok-0123456789ab");
        assertEquals(2, subTypo.rc());
        assertTrue(subTypo.err().startsWith("bmcast: unknown command 'revok' (see 'bmcast token --help')"), subTypo.err());

        // a token that would expire at once is refused before anything is asked of a controller
        Run ttl = bmcast("token", "create", "--project", "p", "--ttl", "0s", "--controller", "http://127.0.0.1:1");
        assertEquals(2, ttl.rc(), ttl.err());
        assertTrue(ttl.err().startsWith("bmcast: --ttl must be longer than 0"), ttl.err());

        for (Run r : List.of(host, status, nothing, unknown, typo, subTypo, ttl)) assertOneSentence(r.err());
    }

    @Test
    void fileErrorsNameTheFileAndWhatWentWrong() {
        assertEquals("permission denied: /root/x.tmp",
                FailureMessage.of(new java.nio.file.AccessDeniedException("/root/x.tmp")));
        assertEquals("no such file or directory: /proc/nope.tmp",
                FailureMessage.of(new java.nio.file.NoSuchFileException("/proc/nope.tmp")));
        assertEquals("/dev/x: read-only file system",
                FailureMessage.of(new java.nio.file.FileSystemException("/dev/x", null, "Read-only file system")));
        assertEquals("cannot resolve a host name", FailureMessage.of(new java.nio.channels.UnresolvedAddressException()));
        assertEquals("bad thing", FailureMessage.of(new RuntimeException("java.io.IOException: bad thing")));
        assertTrue(FailureMessage.of(new NullPointerException()).startsWith("internal error (NullPointerException)"));
    }

    @Test
    void guestBuildIntoAnUnwritablePlaceSaysWhy() {
        Run r = bmcast("guest", "build", "busybox", "--out", "/proc/nope");
        assertEquals(1, r.rc(), r.err());
        assertTrue(r.err().startsWith("bmcast: cannot "), r.err());
        assertTrue(r.err().contains("/proc/nope"), r.err());
        assertTrue(r.err().strip().endsWith("no such file or directory") || r.err().contains("permission denied"), r.err());
        assertOneSentence(r.err());
    }

    static void assertOneSentence(String err) {
        assertTrue(err.startsWith("bmcast: "), err);
        assertEquals(1, err.strip().lines().count(), err);
        assertFalse(err.contains("Exception"), err);
    }
}
