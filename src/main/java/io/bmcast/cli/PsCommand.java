package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast ps}: the instances this token may see. */
@Command(name = "ps", mixinStandardHelpOptions = true, description = "List instances (a project token sees its own project's).")
public final class PsCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Option(names = "--json", description = "print JSON objects (id, image, node, state, ...)") boolean json;
    @Option(names = {"-a", "--all"}, description = "include deleted instances") boolean all;

    @Override
    public Integer call() throws Exception {
        List<Api.Instance> list = controller.client().get("api/v1/instances" + (all ? "?all=true" : ""), ApiClient.INSTANCES).stream()
                .filter(i -> all || !"deleted".equals(i.state())).toList();
        if (json) {
            Fleet.printJson(controller.out(), list);
            return 0;
        }
        Table t = new Table("ID", "PROJECT", "IMAGE", "NODE", "STATE", "LOCAL", "ON DEMAND / BACKGROUND", "AGE");
        for (Api.Instance i : list) {
            String state = i.reason() == null || i.reason().isBlank() ? i.state() : i.state() + " (" + i.reason() + ")";
            t.row(i.id(), i.project(), i.image(), i.node(), state, Fleet.percent(i.fractionLocal()), Fleet.progress(i),
                    Fleet.age(i.createdAt()));
        }
        t.print(controller.out());
        return 0;
    }
}
