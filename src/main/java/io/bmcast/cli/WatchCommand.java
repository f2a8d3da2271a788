package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.util.Units;
import java.io.PrintWriter;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast watch}: a live terminal view, a progress bar per instance, redrawn in place. */
@Command(name = "watch", mixinStandardHelpOptions = true, description = "A live view of the instances, a progress bar each (Ctrl-C ends it).")
public final class WatchCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Option(names = "--interval", defaultValue = "1s", paramLabel = "DURATION", description = "refresh period (default ${DEFAULT-VALUE})") String interval;
    @Option(names = "--count", defaultValue = "0", paramLabel = "N", description = "stop after N refreshes (0: until Ctrl-C)") int count;

    @Override
    public Integer call() throws Exception {
        long periodMs = Math.max(100, Units.parseDurationNanos(interval) / 1_000_000);
        ApiClient client = controller.client();
        boolean tty = System.console() != null;
        for (int n = 0; count == 0 || n < count; n++) {
            List<Api.Instance> list = client.get("api/v1/instances", ApiClient.INSTANCES).stream()
                    .filter(i -> !"deleted".equals(i.state())).toList();
            if (tty) controller.out().print("\033[H\033[2J");
            render(controller.out(), list);
            controller.out().flush();
            Thread.sleep(periodMs);
        }
        return 0;
    }

    static void render(PrintWriter out, List<Api.Instance> list) {
        Map<String, Integer> byState = new TreeMap<>();
        for (Api.Instance i : list) byState.merge(i.state(), 1, Integer::sum);
        out.println("bmcast  " + LocalTime.now().truncatedTo(ChronoUnit.SECONDS) + "  " + list.size() + " instances " + byState);
        for (Api.Instance i : list) {
            out.printf("%-14s %-10s %-14s %-13s %s %4s  %s%n", i.id(), i.image(), i.node() == null ? "-" : i.node(), i.state(),
                    Fleet.bar(i.fractionLocal(), 30), Fleet.percent(i.fractionLocal()), Fleet.progress(i));
        }
    }
}
