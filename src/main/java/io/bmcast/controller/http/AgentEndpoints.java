package io.bmcast.controller.http;

import io.bmcast.controller.AgentGateway;
import io.bmcast.controller.ImageCatalog;
import io.bmcast.controller.store.ImageRepository.BootFile;
import io.bmcast.fleet.AgentProtocol;
import io.javalin.config.RoutesConfig;

/** What agents call: {@link AgentProtocol}'s register and heartbeat, and the images' boot files and extent maps. */
final class AgentEndpoints {
    private AgentEndpoints() {}

    static void register(RoutesConfig routes, AgentGateway agents, ImageCatalog images) {
        routes.post("/api/v1/agent/register", ctx -> {
            Access.agent(ctx);
            ctx.json(agents.register(Bodies.json(ctx, AgentProtocol.Hello.class)));
        });
        routes.post("/api/v1/agent/heartbeat", ctx -> {
            Access.agent(ctx);
            ctx.json(agents.heartbeat(Bodies.json(ctx, AgentProtocol.Report.class)));
        });
        routes.get("/api/v1/images/{name}/kernel", ctx -> {
            Access.agent(ctx);
            ctx.contentType("application/octet-stream").result(images.bootFile(ctx.pathParam("name"), BootFile.KERNEL));
        });
        routes.get("/api/v1/images/{name}/initrd", ctx -> {
            Access.agent(ctx);
            ctx.contentType("application/octet-stream").result(images.bootFile(ctx.pathParam("name"), BootFile.INITRD));
        });
        routes.get("/api/v1/images/{name}/extents", ctx -> {
            Access.agent(ctx);
            ctx.json(images.extents(ctx.pathParam("name")));
        });
    }
}
