package io.bmcast.controller.http;

import io.bmcast.controller.ControllerException;
import io.bmcast.controller.ImageCatalog;
import io.bmcast.fleet.Api;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.UploadedFile;
import java.io.IOException;
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
                Api.NewImage request = new Api.NewImage(ctx.formParam("name"), ctx.formParam("uri"), ctx.formParam("append"));
                ctx.status(201).json(images.add(request, file(ctx, "kernel"), file(ctx, "initrd")));
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

    private static byte[] file(Context ctx, String field) throws IOException {
        UploadedFile f = ctx.uploadedFile(field);
        if (f == null) return null;
        try (InputStream in = f.content()) {
            byte[] bytes = in.readAllBytes();
            if (bytes.length == 0) throw ControllerException.invalid("the uploaded " + field + " is empty");
            return bytes;
        }
    }
}
