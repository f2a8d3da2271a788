package io.bmcast.controller.http;

import io.bmcast.controller.AgentGateway;
import io.bmcast.controller.ControllerException;
import io.bmcast.controller.ImageCatalog;
import io.bmcast.controller.store.ImageRepository.BootFile;
import io.bmcast.fleet.AgentProtocol;
import io.javalin.config.RoutesConfig;

/** What agents call: {@link AgentProtocol}'s register and heartbeat, and the images' boot files and extent maps. */
final class AgentEndpoints {
    static final String HEARTBEAT = "/api/v1/agent/heartbeat";

    private AgentEndpoints() {}

    static void register(RoutesConfig routes, AgentGateway agents, ImageCatalog images) {
        routes.post("/api/v1/agent/register", ctx -> {
            Access.agent(ctx);
            ctx.json(agents.register(Bodies.json(ctx, AgentProtocol.Hello.class), ctx.header(AgentProtocol.CREDENTIAL_HEADER)));
        });
        routes.post(HEARTBEAT, ctx -> {
            Access.agent(ctx);
            AgentProtocol.Report report = Bodies.json(ctx, AgentProtocol.Report.class);
            String credential = ctx.header(AgentProtocol.CREDENTIAL_HEADER);
            long waitMs = waitMs(ctx.queryParam("wait"));
            if (waitMs <= 0) {
                ctx.json(agents.heartbeat(report, credential));
            } else {
                // asynchronous: a thousand idle nodes polling at once hold a thousand responses, not threads
                ctx.future(() -> agents.heartbeat(report, credential, waitMs).thenAccept(ctx::json));
            }
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

    /** The heartbeat's {@code ?wait=MS}, a long-poll hint (absent: answer at once). */
    private static long waitMs(String raw) {
        if (raw == null || raw.isEmpty()) return 0;
        try {
            return Long.parseLong(raw);
        } catch (NumberFormatException e) {
            throw ControllerException.invalid("wait is a number of milliseconds, not '" + raw + "'");
        }
    }
}
