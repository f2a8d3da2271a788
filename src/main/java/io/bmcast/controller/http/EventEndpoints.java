package io.bmcast.controller.http;

import io.bmcast.controller.EventFeed;
import io.bmcast.controller.Principal;
import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Events: a page at a time, or live as server-sent events resuming after {@code Last-Event-ID}. The stream
 * is written here rather than with Javalin's SSE helper, which answers an empty 200 to any client that does
 * not send {@code Accept: text/event-stream} (curl, scripts); each stream holds one virtual thread.
 */
final class EventEndpoints {
    /** A comment this often keeps proxies from closing a quiet stream and tells us when a client left. */
    private static final long KEEPALIVE_MS = 15_000;

    private EventEndpoints() {}

    static void register(RoutesConfig routes, EventFeed feed) {
        routes.get("/api/v1/events", ctx -> {
            Principal who = Access.user(ctx);
            ctx.json(feed.page(who, Bodies.longParam(ctx, "after", -1), (int) Bodies.longParam(ctx, "limit", 100)));
        });
        routes.get("/api/v1/events/stream", ctx -> stream(ctx, feed, Access.user(ctx)));
    }

    private static void stream(Context ctx, EventFeed feed, Principal who) throws IOException, InterruptedException {
        String last = ctx.header("Last-Event-ID");
        long lastId = last == null || last.isBlank() ? -1 : Bodies.longHeader(last, "Last-Event-ID");
        HttpServletResponse res = ctx.res();
        feed.follow(who, Access.credential(ctx), Access.holder(ctx), lastId, new EventFeed.Follower() {
            private OutputStream out;

            @Override
            public boolean open() {
                try {
                    out = res.getOutputStream(); // only now: a refused stream is answered as JSON by the error mapping
                } catch (IOException gone) {
                    return false;
                }
                res.setStatus(200);
                res.setContentType("text/event-stream");
                res.setCharacterEncoding("UTF-8");
                res.setHeader("Cache-Control", "no-cache");
                res.setHeader("X-Accel-Buffering", "no");
                return write(out, ": stream of bmcast events\n\n");
            }

            @Override
            public boolean send(Api.Event e) {
                try {
                    return write(out, "id: " + e.id() + "\nevent: event\ndata: " + Jackson.MAPPER.writeValueAsString(e) + "\n\n");
                } catch (com.fasterxml.jackson.core.JsonProcessingException x) {
                    throw new IllegalStateException(x);
                }
            }

            @Override
            public boolean idle() {
                return write(out, ": keepalive\n\n");
            }
        }, KEEPALIVE_MS);
    }

    /** False when the client has gone. */
    private static boolean write(OutputStream out, String frame) {
        try {
            out.write(frame.getBytes(StandardCharsets.UTF_8));
            out.flush();
            return true;
        } catch (IOException gone) {
            return false;
        }
    }
}
