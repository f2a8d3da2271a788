package io.bmcast.controller.http;

import io.bmcast.controller.InstanceLifecycle;
import io.bmcast.fleet.Api;
import io.javalin.config.RoutesConfig;

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
        routes.get("/api/v1/instances/{id}/console", ctx -> ctx.contentType("text/plain; charset=utf-8")
                .result(instances.console(Access.user(ctx), ctx.pathParam("id"))));
    }
}
