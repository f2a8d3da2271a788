package io.bmcast.controller.http;

import io.bmcast.controller.ImageCatalog;
import io.bmcast.fleet.Api;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.UploadedFile;
import java.io.InputStream;

/** Images: anyone may list them (projects launch from them); only the operator adds and removes them. */
final class ImageEndpoints {
    private ImageEndpoints() {}

    static void register(RoutesConfig routes, ImageCatalog images) {
        routes.get("/api/v1/images", ctx -> {
            Access.anyone(ctx);
            ctx.json(images.list());
        });
        routes.post("/api/v1/images", ctx -> {
            Access.operator(ctx);
            if (ctx.isMultipartFormData()) {
                parse(ctx);
                Api.NewImage request = new Api.NewImage(ctx.formParam("name"), ctx.formParam("uri"), ctx.formParam("append"));
                try (InputStream kernel = file(ctx, "kernel"); InputStream initrd = file(ctx, "initrd")) {
                    ctx.status(201).json(images.add(request, kernel, initrd));
                }
            } else {
                ctx.status(201).json(images.add(Bodies.json(ctx, Api.NewImage.class), null, null));
            }
        });
        routes.delete("/api/v1/images/{name}", ctx -> {
            Access.operator(ctx);
            images.delete(ctx.pathParam("name"));
            ctx.status(204);
        });
    }

    /**
     * Reads the multipart body (its files to disk past 64 KiB): one past the upload limit while it streams (no
     * declared length) is 413, a malformed one 400, either with one sentence.
     */
    private static void parse(Context ctx) {
        try {
            ctx.formParamMap();
        } catch (Exception e) { // Jetty's ServletException comes through Kotlin undeclared
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t.getMessage() != null && t.getMessage().contains("max length exceeded")) throw BodyLimits.tooLarge(ctx);
            }
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) root = root.getCause();
            throw io.bmcast.controller.ControllerException.invalid("the upload is not a readable multipart body: " + root.getMessage());
        }
    }

    /** An uploaded file's bytes as a stream (Jetty keeps a large part on disk), or null when it was not sent. */
    private static InputStream file(Context ctx, String field) {
        UploadedFile f = ctx.uploadedFile(field);
        return f == null ? null : f.content();
    }
}
