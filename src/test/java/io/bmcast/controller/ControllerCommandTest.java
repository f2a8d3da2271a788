package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code bmcast controller}'s command line: help, and one-sentence errors. */
class ControllerCommandTest {
    @TempDir
    Path dir;

    @Test
    void helpListsTheOptionsAndBadOptionsSaySoInOneSentence() {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new ControllerCommand()).setOut(new PrintWriter(out));
        assertEquals(0, cli.execute("--help"));
        for (String option : new String[] {"--listen", "--data", "--db", "--heartbeat-timeout", "--serialized"}) {
            assertTrue(out.toString().contains(option), out.toString());
        }

        StringWriter err = new StringWriter();
        CommandLine bad = new CommandLine(new ControllerCommand()).setErr(new PrintWriter(err));
        assertEquals(2, bad.execute("--data", dir.toString(), "--listen", "localhost"));
        assertTrue(err.toString().contains("--listen") && err.toString().contains("must be HOST:PORT"), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, bad.execute("--data", dir.toString(), "--heartbeat-timeout", "soon"));
        assertTrue(err.toString().contains("--heartbeat-timeout") && err.toString().contains("must be a duration"), err.toString());
    }
}
