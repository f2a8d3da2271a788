package io.bmcast.controller.http;

import io.bmcast.controller.Limits;
import io.bmcast.controller.Principal;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * How large a request body may be, by route and caller, enforced before the body is read: a declared length
 * over the limit is refused at once (nothing of the body is read), and a body of undeclared length (chunked) is
 * read only up to the limit. JSON routes get {@link Limits#maxJsonBody()}, heartbeats a little more (console
 * output), and only the operator's image upload the large limit; a non-operator's upload is refused by its
 * handler before the body is touched.
 */
final class BodyLimits {
    private static final String LIMIT = "bmcast.bodyLimit";
    static final String IMAGES = "/api/v1/images";

    private final Limits limits;

    BodyLimits(Limits limits) {
        this.limits = limits;
    }

    /** Before every request: remembers its limit and refuses a declared length over it (413). */
    void check(Context ctx) {
        long limit = limitFor(ctx);
        ctx.attribute(LIMIT, limit);
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) throw tooLarge(ctx, limit);
    }

    private long limitFor(Context ctx) {
        String path = ctx.path();
        if (path.equals(AgentEndpoints.HEARTBEAT)) return limits.maxHeartbeatBody();
        if (AgentEndpoints.isBootProfileUpload(ctx.method().name(), path)) return io.bmcast.fleet.AgentProtocol.MAX_BOOT_PROFILE_BYTES;
        if (path.equals(IMAGES) && ctx.isMultipartFormData()) {
            Principal who = ctx.attribute(Access.PRINCIPAL);
            if (who != null && who.isOperator()) return limits.maxUpload();
        }
        return limits.maxJsonBody();
    }

    /** The whole body, read no further than the request's limit (413 past it). */
    static byte[] read(Context ctx) throws IOException {
        Long limit = ctx.attribute(LIMIT);
        if (limit == null) throw new IllegalStateException("no body limit: route not behind BodyLimits.check");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try (InputStream in = ctx.req().getInputStream()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                if (out.size() + n > limit) throw tooLarge(ctx, limit);
                out.write(buf, 0, n);
            }
        }
        return out.toByteArray();
    }

    /** The refusal of a body found over this request's limit while it was read by someone else (multipart). */
    static HttpResponseException tooLarge(Context ctx) {
        Long limit = ctx.attribute(LIMIT);
        return tooLarge(ctx, limit == null ? 0 : limit);
    }

    private static HttpResponseException tooLarge(Context ctx, long limit) {
        // The rest of the body is not read: the connection cannot be reused, and the client learns it at once.
        ctx.header("Connection", "close");
        return new HttpResponseException(413, "the request body is larger than the " + io.bmcast.util.Units.formatSize(limit)
                + " this endpoint accepts");
    }
}
