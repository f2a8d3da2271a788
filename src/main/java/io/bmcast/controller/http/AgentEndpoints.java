package io.bmcast.controller.http;

import io.bmcast.controller.AgentGateway;
import io.bmcast.controller.ControllerException;
import io.bmcast.controller.ImageCatalog;
import io.bmcast.controller.store.ImageRepository.BootFile;
import io.bmcast.fleet.AgentProtocol;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;

/** What agents call: {@link AgentProtocol}'s register and heartbeat, and the images' boot files and extent maps. */
final class AgentEndpoints {
    static final String HEARTBEAT = "/api/v1/agent/heartbeat";

    private AgentEndpoints() {}

    /** {@code PUT /api/v1/agent/images/{name}/boot-profile}: binary, and up to 1 MiB. */
    static boolean isBootProfileUpload(String method, String path) {
        return method.equals("PUT") && path.startsWith("/api/v1/agent/images/") && path.endsWith("/boot-profile");
    }

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
        routes.get("/api/v1/images/{name}/kernel", ctx -> bootFile(ctx, images, BootFile.KERNEL));
        routes.get("/api/v1/images/{name}/initrd", ctx -> bootFile(ctx, images, BootFile.INITRD));
        routes.get("/api/v1/images/{name}/boot-profile", ctx -> {
            Access.agent(ctx);
            ImageCatalog.BootProfile p = images.bootProfile(ctx.pathParam("name"));
            String etag = "\"" + p.sha256() + "\"";
            ctx.header("ETag", etag);
            if (matches(ctx.header("If-None-Match"), etag)) {
                ctx.status(304);
                return;
            }
            ctx.contentType("application/octet-stream").result(p.content());
        });
        routes.put("/api/v1/agent/images/{name}/boot-profile", ctx -> {
            Access.agent(ctx);
            byte[] body = BodyLimits.read(ctx);
            boolean kept = agents.bootProfile(ctx.queryParam("node"), ctx.header(AgentProtocol.CREDENTIAL_HEADER), ctx.pathParam("name"), body);
            ctx.json(new io.bmcast.fleet.Api.BootProfileRecorded(kept));
        });
        routes.get("/api/v1/images/{name}/extents", ctx -> {
            Access.agent(ctx);
            ctx.json(images.extents(ctx.pathParam("name")));
        });
    }

    /**
     * A kernel or initrd, streamed a chunk at a time with its SHA-256 as a strong ETag; a client that holds that
     * content already ({@code If-None-Match}) gets 304 and no body. Written to the response here, not handed to
     * Javalin as a result, so that nothing buffers the file whole.
     */
    private static void bootFile(Context ctx, ImageCatalog images, BootFile kind) throws IOException {
        Access.agent(ctx);
        ImageCatalog.BootDownload file = images.bootFile(ctx.pathParam("name"), kind);
        String etag = "\"" + file.sha256() + "\"";
        HttpServletResponse res = ctx.res();
        res.setHeader("ETag", etag);
        if (matches(ctx.header("If-None-Match"), etag)) {
            res.setStatus(304);
            return;
        }
        res.setStatus(200);
        res.setContentType("application/octet-stream");
        res.setContentLengthLong(file.sizeBytes());
        OutputStream out = res.getOutputStream();
        file.writeTo(out);
        out.flush();
    }

    /** Whether an {@code If-None-Match} list names {@code etag} (or is {@code *}); weak tags compare by value. */
    static boolean matches(String ifNoneMatch, String etag) {
        if (ifNoneMatch == null) return false;
        for (String t : ifNoneMatch.split(",")) {
            String tag = t.strip();
            if (tag.startsWith("W/")) tag = tag.substring(2);
            if (tag.equals("*") || tag.equals(etag)) return true;
        }
        return false;
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
