package io.bmcast.controller.http;

import io.bmcast.controller.EventFeed;
import io.bmcast.controller.Principal;
import io.bmcast.util.Jackson;
import io.javalin.config.RoutesConfig;
import io.javalin.http.sse.SseClient;

/** Events: a page at a time, or live over SSE (resuming after {@code Last-Event-ID}). */
final class EventEndpoints {
    /** A comment this often keeps proxies from closing a quiet stream and tells us when a client left. */
    private static final long KEEPALIVE_MS = 15_000;

    private EventEndpoints() {}

    static void register(RoutesConfig routes, EventFeed feed) {
        routes.get("/api/v1/events", ctx -> {
            Principal who = Access.user(ctx);
            ctx.json(feed.page(who, Bodies.longParam(ctx, "after", -1), (int) Bodies.longParam(ctx, "limit", 100)));
        });
        // the role is checked before the stream starts: once it has, a refusal could no longer be a status
        routes.before("/api/v1/events/stream", Access::user);
        routes.sse("/api/v1/events/stream", client -> {
            Principal who = Access.who(client.ctx());
            String last = client.ctx().header("Last-Event-ID");
            long lastId = last == null || last.isBlank() ? -1 : parseId(last);
            try {
                feed.follow(who, lastId, new EventFeed.Follower() {
                    @Override
                    public boolean send(io.bmcast.fleet.Api.Event e) {
                        return sendJson(client, e);
                    }

                    @Override
                    public boolean idle() {
                        if (client.terminated()) return false;
                        client.sendComment("keepalive");
                        return !client.terminated();
                    }
                }, KEEPALIVE_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private static boolean sendJson(SseClient client, io.bmcast.fleet.Api.Event e) {
        if (client.terminated()) return false;
        try {
            client.sendEvent("event", Jackson.MAPPER.writeValueAsString(e), Long.toString(e.id()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException x) {
            throw new IllegalStateException(x);
        }
        return !client.terminated();
    }

    private static long parseId(String s) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
