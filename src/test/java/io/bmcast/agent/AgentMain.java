package io.bmcast.agent;

import picocli.CommandLine;

/** {@code bmcast agent} in a JVM of its own for tests that kill it with -9 (the CLI root registers the command too). */
public final class AgentMain {
    private AgentMain() {}

    public static void main(String[] args) {
        System.exit(new CommandLine(new AgentCommand()).execute(args));
    }
}
