package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import io.bmcast.util.UsageException;
import io.bmcast.util.Units;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bmcast destroy ID... | --all [--wait]}: power off, scrub the node's disk, delete. */
@Command(name = "destroy", mixinStandardHelpOptions = true,
        description = "Destroy instances: the guest is powered off and its node's disk scrubbed and verified before the node is offered again.")
public final class DestroyCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Parameters(paramLabel = "ID", arity = "0..*", description = "instances to destroy") List<String> ids = new ArrayList<>();
    @Option(names = "--all", description = "every instance this token sees") boolean all;
    @Option(names = "--force", description = "operator only: delete at once even if the node is dead or silent; the node is"
            + " then scrubbed and verified before any reuse") boolean force;
    @Option(names = "--wait", description = "return once every one is deleted (its node scrubbed)") boolean wait;
    @Option(names = "--timeout", defaultValue = "10m", paramLabel = "DURATION", description = "how long --wait waits (default ${DEFAULT-VALUE})") String timeout;

    @Override
    public Integer call() throws Exception {
        if (all == !ids.isEmpty()) throw new UsageException("name the instances to destroy, or --all (not both)");
        long timeoutNs = Units.parseDurationNanos(timeout);
        ApiClient client = controller.client();
        List<String> targets = ids;
        if (all) {
            targets = client.get("api/v1/instances", ApiClient.INSTANCES).stream()
                    .filter(i -> !"deleted".equals(i.state())).map(Api.Instance::id).toList();
            if (targets.isEmpty()) controller.err().println("no instances to destroy");
        }
        for (String id : targets) {
            Api.Instance i = client.delete("api/v1/instances/" + Paths.segment(id) + (force ? "?force=true" : ""), ApiClient.INSTANCE);
            controller.out().println(id + " " + (i == null ? "destroying" : i.state()));
            if (i != null && InstanceState.UNKNOWN.wire().equals(i.state())) {
                // Its node is silent: say what happens next rather than leave "unknown" to be puzzled over.
                controller.err().println("bmcast: " + id + ": node " + i.node() + " is offline; the destroy goes on when its agent is"
                        + " back, or `bmcast destroy --force " + id + "` (operator) deletes it now and the node is scrubbed before any reuse");
            }
        }
        if (wait && !targets.isEmpty()) {
            new InstanceWaiter(client, controller.err()).await(targets, "deleted", s -> s == InstanceState.DELETED, timeoutNs);
        }
        return 0;
    }
}
