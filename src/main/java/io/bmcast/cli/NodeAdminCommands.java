package io.bmcast.cli;

import io.bmcast.fleet.Api;
import io.bmcast.util.UsageException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The operator's ways out with a node: {@code node rm}, {@code node maintenance}, {@code node scrub}. */
final class NodeAdminCommands {
    private NodeAdminCommands() {}

    @Command(name = "rm", mixinStandardHelpOptions = true,
            description = "Remove a node (operator token): its name is free to register again, e.g. after a reinstall.")
    static final class Remove implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(paramLabel = "NAME", description = "the node") String name;
        @Option(names = "--force", description = "also when it holds an instance: that instance is deleted with it") boolean force;

        @Override
        public Integer call() throws Exception {
            controller.client().delete("api/v1/nodes/" + Paths.segment(name) + (force ? "?force=true" : ""), null);
            controller.out().println(name + " removed");
            return 0;
        }
    }

    @Command(name = "maintenance", mixinStandardHelpOptions = true,
            description = "Take a node out of scheduling (on) or put it back (off), operator token. What it runs keeps running.")
    static final class Maintenance implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(index = "0", paramLabel = "NAME", description = "the node") String name;
        @Parameters(index = "1", paramLabel = "on|off", description = "on: no new instances; off: offered again") String mode;

        @Override
        public Integer call() throws Exception {
            boolean on = switch (mode) {
                case "on" -> true;
                case "off" -> false;
                default -> throw new UsageException("maintenance is 'on' or 'off', not '" + mode + "'");
            };
            controller.client().post("api/v1/nodes/" + Paths.segment(name) + "/maintenance", new Api.Maintenance(on), null);
            controller.out().println(name + " maintenance " + mode);
            return 0;
        }
    }

    @Command(name = "scrub", mixinStandardHelpOptions = true,
            description = "Have a node's agent scrub and verify its disk again (operator token), e.g. a failed node; it is "
                    + "offered again only once it reports the new scrub verified.")
    static final class Scrub implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(paramLabel = "NAME", description = "the node") String name;

        @Override
        public Integer call() throws Exception {
            controller.client().post("api/v1/nodes/" + Paths.segment(name) + "/scrub", java.util.Map.of(), null);
            // An offline node's agent hears of it when it is back: say what is owed, not that a scrub runs now.
            controller.out().println(name + " must scrub: its agent scrubs and verifies the disk (an offline one once it is back);"
                    + " the node is offered again once the scrub is verified");
            return 0;
        }
    }
}
