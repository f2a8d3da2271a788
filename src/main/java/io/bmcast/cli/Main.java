package io.bmcast.cli;

import io.bmcast.agent.AgentCommand;
import io.bmcast.bench.BenchCommand;
import io.bmcast.controller.ControllerCommand;
import io.bmcast.demo.DemoCommand;
import io.bmcast.guest.GuestCommand;
import io.bmcast.imageserver.ImageServerCommand;
import io.bmcast.imageserver.ServeFileCommand;
import io.bmcast.instance.InstanceCommand;
import io.bmcast.node.NodeCommand;
import io.bmcast.util.FailureMessage;
import io.bmcast.util.LogFormat;
import io.bmcast.util.UsageException;
import io.bmcast.vmm.VmCommand;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code bmcast} command: the picocli root. Every top-level command is a picocli {@code @Command} listed in
 * {@link #COMMANDS}, so a new one is one more entry there. Usage errors exit with 2, failures with 1, each as one
 * line {@code bmcast: ...} on stderr.
 */
@Command(name = "bmcast", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT, version = "bmcast 0.1.0",
        sortOptions = false, usageHelpAutoWidth = true,
        description = "Deploy bare-metal instances by streaming their OS disk (BMcast).",
        footer = {"", "Sizes: 4096, 64K, 512M, 32G. Rates: 200Mbit, 1Gbit, 10Gbit, or bytes with their unit: 125MB/s, 64KiB/s."
            + " Durations: 200us, 10ms, 2s, 5m."})
public final class Main implements Callable<Integer> {
    /**
     * The top-level commands, in the order help lists them. Not picocli's declarative {@code subcommands}: picocli
     * builds the model of every listed command by reflection before parsing, which made the mediator's start
     * ({@code bmcast node}, once per deployment) ~150 ms slower again. {@link #commandLine} adds only the command
     * named on the command line, or all of them for help and for an unknown name.
     */
    static final List<Class<?>> COMMANDS = List.of(
            CommandLine.HelpCommand.class,
            Version.class,
            DemoCommand.class,
            ImageServerCommand.class,
            ServeFileCommand.class,
            BenchCommand.class,
            NodeCommand.class,
            InstanceCommand.class,
            GuestCommand.class,
            VmCommand.class,
            ControllerCommand.class,
            AgentCommand.class,
            ImageCommand.class,
            TokenCommand.class,
            LaunchCommand.class,
            PsCommand.class,
            ConsoleCommand.class,
            DestroyCommand.class,
            EventsCommand.class,
            WatchCommand.class);

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        LogFormat.oneLinePerRecord();
        System.exit(run(args, System.out, System.err));
    }

    /** Runs one command line to its exit code, writing help and errors to {@code out} and {@code err}. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return commandLine(out, err, args).execute(args);
    }

    static CommandLine commandLine(PrintStream out, PrintStream err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        String named = Arrays.stream(args).filter(a -> !a.startsWith("-")).findFirst().orElse(null);
        List<Class<?>> wanted = COMMANDS.stream().filter(c -> c.getAnnotation(Command.class).name().equals(named)).toList();
        for (Class<?> c : wanted.isEmpty() || wanted.get(0) == CommandLine.HelpCommand.class ? COMMANDS : wanted) cl.addSubcommand(c);
        // `node ls` lists the fleet's nodes; the mediator's package must not depend on the CLI, so it is added here.
        CommandLine node = cl.getSubcommands().get("node");
        if (node != null) {
            node.addSubcommand("ls", new NodeListCommand());
            node.addSubcommand("rm", new NodeAdminCommands.Remove());
            node.addSubcommand("maintenance", new NodeAdminCommands.Maintenance());
            node.addSubcommand("scrub", new NodeAdminCommands.Scrub());
        }
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cl.setParameterExceptionHandler((e, argv) -> usageError(e.getCommandLine(), e.getMessage()));
        cl.setExecutionExceptionHandler((e, command, parseResult) -> {
            if (e instanceof UsageException || e instanceof ParameterException) return usageError(command, e.getMessage());
            command.getErr().println("bmcast: " + FailureMessage.of(e));
            if (System.getenv("BMCAST_DEBUG") != null) e.printStackTrace(command.getErr());
            return 1;
        });
        return cl;
    }

    private static int usageError(CommandLine command, String message) {
        String line = FailureMessage.oneLine(message);
        if (line.startsWith("Unmatched argument") && line.indexOf('\'') >= 0 && !command.getSubcommands().isEmpty()) {
            // picocli names one unmatched word ("at index 0: 'nope'") or all from the first ("from index 0: 'nod', 'ls'")
            int open = line.indexOf('\'');
            int close = line.indexOf('\'', open + 1);
            line = "unknown command " + (close > open ? line.substring(open, close + 1) : line.substring(open));
        } else if (!line.isEmpty() && Character.isUpperCase(line.charAt(0)) && !line.startsWith("QEMU")) {
            line = Character.toLowerCase(line.charAt(0)) + line.substring(1);
        }
        command.getErr().println("bmcast: " + line + " (see '" + command.getCommandSpec().qualifiedName() + " --help')");
        return 2;
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    @Command(name = "version", description = "Print the version.")
    static final class Version implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            spec.commandLine().getOut().println("bmcast 0.1.0");
            return 0;
        }
    }
}
