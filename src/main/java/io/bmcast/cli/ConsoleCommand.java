package io.bmcast.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code bmcast console ID}: the instance's serial console so far (as {@code openstack console log show}). */
@Command(name = "console", mixinStandardHelpOptions = true, description = "Print an instance's serial console so far.")
public final class ConsoleCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Parameters(paramLabel = "ID", description = "the instance") String id;

    @Override
    public Integer call() throws Exception {
        controller.out().print(controller.client().getText("api/v1/instances/" + Paths.segment(id) + "/console"));
        controller.out().flush();
        return 0;
    }
}
