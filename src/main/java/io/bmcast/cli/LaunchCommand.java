package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import io.bmcast.util.UsageException;
import io.bmcast.util.Units;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast launch --image NAME [--count N] [--wait running|devirtualized]}: prints one instance id per line. */
@Command(name = "launch", mixinStandardHelpOptions = true,
        description = "Launch instances of an image, one per free node; prints one instance id per line.")
public final class LaunchCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Option(names = "--image", required = true, paramLabel = "NAME", description = "the image (see `bmcast image ls`)") String image;
    @Option(names = "--count", defaultValue = "1", paramLabel = "N", description = "how many (default ${DEFAULT-VALUE})") int count;
    @Option(names = "--wait", paramLabel = "running|devirtualized",
            description = "return once every instance runs (its disk may still be streaming) or is de-virtualized") String wait;
    @Option(names = "--timeout", defaultValue = "10m", paramLabel = "DURATION", description = "how long --wait waits (default ${DEFAULT-VALUE})") String timeout;

    @Override
    public Integer call() throws Exception {
        if (count < 1 || count > 10_000) throw new UsageException("--count must be between 1 and 10000");
        Predicate<InstanceState> goal = goal(wait);
        long timeoutNs = Units.parseDurationNanos(timeout);
        ApiClient client = controller.client();
        List<Api.Instance> launched = client.post("api/v1/instances", new Api.Launch(image, count), ApiClient.INSTANCES);
        for (Api.Instance i : launched) controller.out().println(i.id());
        controller.out().flush();
        if (goal != null) {
            new InstanceWaiter(client, controller.err()).await(launched.stream().map(Api.Instance::id).toList(), wait, goal, timeoutNs);
        }
        return 0;
    }

    static Predicate<InstanceState> goal(String wait) {
        if (wait == null) return null;
        return switch (wait) {
            case "running" -> InstanceState::isRunningOrLater;
            case "devirtualized" -> s -> s == InstanceState.DEVIRTUALIZED || s == InstanceState.STOPPED;
            default -> throw new UsageException("--wait must be running or devirtualized, not '" + wait + "'");
        };
    }
}
