package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** Polls instances until each satisfies a goal, printing one progress line to stderr whenever the picture changes. */
final class InstanceWaiter {
    private final ApiClient client;
    private final PrintWriter progress;

    InstanceWaiter(ApiClient client, PrintWriter progress) {
        this.client = client;
        this.progress = progress;
    }

    /**
     * @return the instances' last views; throws when one failed or the time ran out
     */
    List<Api.Instance> await(List<String> ids, String goalName, Predicate<InstanceState> goal, long timeoutNs)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeoutNs;
        String last = "";
        while (true) {
            Map<String, Api.Instance> views = new LinkedHashMap<>();
            for (String id : ids) views.put(id, fetch(id));
            List<String> failed = new ArrayList<>();
            Map<String, Integer> byState = new LinkedHashMap<>();
            boolean done = true;
            for (Api.Instance i : views.values()) {
                InstanceState s = i == null ? InstanceState.DELETED : InstanceState.fromWire(i.state());
                byState.merge(s.wire(), 1, Integer::sum);
                if (s == InstanceState.FAILED && !goal.test(s)) failed.add(i.id() + ": " + i.reason());
                if (!goal.test(s)) done = false;
            }
            String line = "waiting for " + goalName + ": " + byState;
            if (!line.equals(last)) {
                progress.println(line);
                last = line;
            }
            if (!failed.isEmpty()) throw new IOException("instance failed: " + String.join("; ", failed));
            if (done) return new ArrayList<>(views.values());
            if (System.nanoTime() > deadline) throw new IOException("gave up waiting for " + goalName + ": " + byState);
            Thread.sleep(250);
        }
    }

    private Api.Instance fetch(String id) throws IOException {
        try {
            return client.get("api/v1/instances/" + Paths.segment(id), ApiClient.INSTANCE);
        } catch (ApiClient.ControllerException e) {
            if (e.status() == 404) return null; // deleted and gone
            throw e;
        }
    }
}
