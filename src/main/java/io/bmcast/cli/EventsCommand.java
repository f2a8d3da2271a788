package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast events [--follow]}: the fleet's append-only event log. */
@Command(name = "events", mixinStandardHelpOptions = true, description = "Print the event log; --follow streams new events.")
public final class EventsCommand implements Callable<Integer> {
    @Mixin ControllerOptions controller;
    @Option(names = {"-f", "--follow"}, description = "keep printing new events as they happen") boolean follow;
    @Option(names = "--limit", defaultValue = "100", paramLabel = "N", description = "how many past events (default ${DEFAULT-VALUE})") int limit;
    @Option(names = "--json", description = "one JSON object per line") boolean json;

    @Override
    public Integer call() throws Exception {
        ApiClient client = controller.client();
        List<Api.Event> past = client.get("api/v1/events?limit=" + Math.max(1, limit), ApiClient.EVENTS);
        long last = 0;
        for (Api.Event e : past) {
            print(e);
            last = Math.max(last, e.id());
        }
        if (follow) {
            long after = last;
            client.stream("api/v1/events/stream", after, node -> {
                try {
                    Api.Event e = Jackson.MAPPER.treeToValue(node, Api.Event.class);
                    if (e.id() > after) print(e);
                } catch (IOException ex) {
                    controller.err().println("bmcast: an event could not be read: " + ex.getMessage());
                }
            });
            // A followed stream ends only when the controller ends it: its token was revoked or expired, the controller
            // stopped, or it fell too far behind. Ask once more, so the first two are named (and fail) as any command's.
            client.get("api/v1/events?limit=1", ApiClient.EVENTS);
            throw new IOException("the controller ended the event stream; run `bmcast events --follow` again to resume");
        }
        return 0;
    }

    private void print(Api.Event e) throws IOException {
        if (json) {
            controller.out().println(Jackson.MAPPER.writeValueAsString(e));
        } else {
            // The controller's message is a whole sentence naming the instance and node; the type is for scripts (--json).
            StringBuilder b = new StringBuilder().append(e.at()).append("  ");
            if (e.message() != null && !e.message().isBlank()) {
                b.append(e.message());
            } else {
                b.append(e.type());
                if (e.instanceId() != null) b.append(' ').append(e.instanceId());
                if (e.node() != null) b.append(" on ").append(e.node());
            }
            controller.out().println(b);
        }
        controller.out().flush();
    }

}
