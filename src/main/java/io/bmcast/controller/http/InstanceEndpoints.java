package io.bmcast.controller.http;

import io.bmcast.controller.ConsoleLogs;
import io.bmcast.controller.ControllerException;
import io.bmcast.controller.InstanceLifecycle;
import io.bmcast.fleet.Api;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;

/** Instances: list, launch, show, destroy, console. A project token sees its own project's only. */
final class InstanceEndpoints {
    private InstanceEndpoints() {}

    static void register(RoutesConfig routes, InstanceLifecycle instances) {
        routes.get("/api/v1/instances", ctx -> ctx.json(instances.list(Access.user(ctx), "true".equals(ctx.queryParam("all")))));
        routes.post("/api/v1/instances", ctx -> {
            var who = Access.user(ctx);
            ctx.status(201).json(instances.launch(who, Bodies.json(ctx, Api.Launch.class)));
        });
        routes.get("/api/v1/instances/{id}", ctx -> ctx.json(instances.get(Access.user(ctx), ctx.pathParam("id"))));
        // ?force=true (the operator): deleted at once, even on a dead node, which must then be scrubbed before any reuse
        routes.delete("/api/v1/instances/{id}", ctx -> ctx.status(202).json(instances.destroy(Access.user(ctx), ctx.pathParam("id"),
                "true".equals(ctx.queryParam("force")))));
        routes.get("/api/v1/instances/{id}/console", ctx -> console(ctx, instances));
    }

    /**
     * The console as kept (its last bytes up to the cap): {@code ?from=OFFSET} reads from there, {@code ?limit=N} at
     * most N bytes (the newest N without {@code from}). The headers say where the piece lies: X-Console-Start (the
     * oldest byte kept: bytes before it were dropped by the cap), X-Console-From, X-Console-End (all received).
     * Streamed from the files.
     */
    private static void console(Context ctx, InstanceLifecycle instances) throws IOException {
        String id = ctx.pathParam("id");
        long limit = Bodies.longParam(ctx, "limit", Long.MAX_VALUE);
        if (limit < 0) throw ControllerException.invalid("query parameter 'limit' must not be negative");
        ConsoleLogs.Piece piece = instances.console(Access.user(ctx), id, Bodies.longParam(ctx, "from", -1), limit);
        HttpServletResponse res = ctx.res();
        res.setStatus(200);
        res.setContentType("text/plain; charset=utf-8");
        res.setHeader("X-Console-Start", Long.toString(piece.start()));
        res.setHeader("X-Console-From", Long.toString(piece.from()));
        res.setHeader("X-Console-End", Long.toString(piece.end()));
        OutputStream out = res.getOutputStream();
        instances.consoleCopy(id, piece, out);
        out.flush();
    }
}
