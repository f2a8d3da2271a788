package io.bmcast.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code bmcast console ID}: the instance's serial console so far (as {@code openstack console log show}),
 * its control characters made visible unless {@code --raw}: the text comes from the guest, not from us.
 */
@Command(name = "console", mixinStandardHelpOptions = true, description = "Print an instance's serial console so far.")
public final class ConsoleCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Parameters(paramLabel = "ID", description = "the instance") String id;
    @Option(names = "--raw", description = "print the guest's bytes as they are, escape sequences included (they reach your terminal)")
    boolean raw;

    @Override
    public Integer call() throws Exception {
        String text = controller.client().getText("api/v1/instances/" + Paths.segment(id) + "/console");
        controller.out().print(raw ? text : TerminalSafe.escape(text));
        controller.out().flush();
        return 0;
    }
}
