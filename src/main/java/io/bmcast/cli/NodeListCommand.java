package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast node ls}: the fleet's machines (operator only). */
@Command(name = "ls", mixinStandardHelpOptions = true, description = "List the fleet's nodes (operator token).")
public final class NodeListCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Option(names = "--json", description = "print JSON objects (name, state, maintenance, mustScrub, ...)") boolean json;

    @Override
    public Integer call() throws Exception {
        List<Api.Node> nodes = controller.client().get("api/v1/nodes", ApiClient.NODES);
        if (json) {
            Fleet.printJson(controller.out(), nodes);
            return 0;
        }
        Table t = new Table("NAME", "STATE", "INSTANCE", "DISK", "MEMORY", "CPUS", "ACCEL", "LAST HEARTBEAT");
        for (Api.Node n : nodes) {
            String state = n.state() + (n.maintenance() ? ", maintenance" : "") + (n.mustScrub() ? ", must scrub" : "");
            t.row(n.name(), state, n.instanceId(), Fleet.size(n.diskBytes()), Fleet.size(n.memoryBytes()), n.cpus(),
                    n.simulated() ? "hollow" : n.accel(), Fleet.age(n.lastHeartbeat()));
        }
        t.print(controller.out());
        return 0;
    }
}
