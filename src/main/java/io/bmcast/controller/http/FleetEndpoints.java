package io.bmcast.controller.http;

import io.bmcast.controller.AccessTokens;
import io.bmcast.controller.FleetMetrics;
import io.bmcast.controller.FleetSummary;
import io.bmcast.controller.NodeAdmin;
import io.bmcast.fleet.Api;
import io.javalin.config.RoutesConfig;

/** Nodes (list, remove, maintenance, scrub), the dashboard's summary, tokens (made, listed, revoked), login codes and the
 * Prometheus metrics. */
final class FleetEndpoints {
    private FleetEndpoints() {}

    static void register(RoutesConfig routes, FleetSummary summary, AccessTokens tokens, FleetMetrics metrics, NodeAdmin admin) {
        routes.get("/api/v1/nodes", ctx -> {
            Access.operator(ctx);
            ctx.json(summary.nodes());
        });
        routes.delete("/api/v1/nodes/{name}", ctx -> {
            Access.operator(ctx);
            admin.remove(ctx.pathParam("name"), "true".equals(ctx.queryParam("force")));
            ctx.status(204);
        });
        routes.post("/api/v1/nodes/{name}/maintenance", ctx -> {
            Access.operator(ctx);
            admin.maintenance(ctx.pathParam("name"), Bodies.json(ctx, Api.Maintenance.class).on());
            ctx.status(204);
        });
        routes.post("/api/v1/nodes/{name}/scrub", ctx -> {
            Access.operator(ctx);
            admin.scrub(ctx.pathParam("name"));
            ctx.status(202);
        });
        routes.get("/api/v1/summary", ctx -> ctx.json(summary.summary(Access.user(ctx))));
        routes.post("/api/v1/tokens", ctx -> {
            Access.operator(ctx);
            Api.NewToken req = Bodies.json(ctx, Api.NewToken.class);
            ctx.status(201).json(tokens.createProjectToken(req.project(),
                    req.ttlSeconds() == null ? null : java.time.Duration.ofSeconds(req.ttlSeconds())));
        });
        routes.get("/api/v1/tokens", ctx -> {
            Access.operator(ctx);
            ctx.json(tokens.list());
        });
        routes.delete("/api/v1/tokens/{id}", ctx -> {
            Access.operator(ctx);
            ctx.json(tokens.revoke(ctx.pathParam("id")));
        });
        routes.post("/api/v1/login-codes", ctx -> ctx.status(201).json(tokens.loginCode(Access.user(ctx), Access.credential(ctx))));
        routes.get("/metrics", ctx -> {
            Access.operator(ctx);
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape());
        });
    }
}
