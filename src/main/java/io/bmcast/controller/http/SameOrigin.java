package io.bmcast.controller.http;

import io.bmcast.controller.ControllerException;
import io.javalin.http.Context;
import java.util.Locale;
import java.util.Set;

/**
 * Cross-site request forgery, refused before any handler runs. A page on another site can make a browser
 * send a "simple" request (a form's POST, text/plain, urlencoded or multipart) with our cookie and no
 * preflight; it cannot send {@code application/json} or a DELETE without one, and we answer no preflight.
 * So a mutating call with a body must say it carries JSON (only the operator's image upload may be
 * multipart; a DELETE may have no body at all), and a
 * browser's call, which always names its {@code Origin} on a mutating method, must come from the
 * controller's own origin. A cookie-authenticated mutating call without an Origin is no browser we know and
 * is refused. Scripts with a bearer token send no Origin and are unaffected.
 */
final class SameOrigin {
    private static final Set<String> MUTATING = Set.of("POST", "PUT", "PATCH", "DELETE");
    /** The one route that takes a multipart upload: a kernel and an initrd. */
    private static final String UPLOAD = "POST /api/v1/images";

    private SameOrigin() {}

    static void check(Context ctx, boolean byCookie) {
        String method = ctx.method().name();
        if (!MUTATING.contains(method)) return;
        String origin = ctx.header("Origin");
        if (origin != null) {
            String own = ctx.scheme() + "://" + ctx.host();
            if (!origin.equalsIgnoreCase(own)) {
                throw ControllerException.forbidden("this request comes from another site (Origin " + origin + ", not " + own + ")");
            }
        } else if (byCookie) {
            throw ControllerException.forbidden("a change made with the dashboard's session cookie must come from the dashboard (no Origin header)");
        }
        String type = ctx.contentType() == null ? "" : ctx.contentType().toLowerCase(Locale.ROOT).strip();
        if (method.equals("DELETE") && type.isEmpty() && ctx.contentLength() <= 0) return; // no body, nothing to forge
        boolean json = type.equals("application/json") || type.startsWith("application/json;");
        boolean upload = type.startsWith("multipart/form-data") && UPLOAD.equals(method + " " + ctx.path());
        // an agent's boot profile is binary (up to 1 MiB of 12- or 16-byte records); agents send no cookie
        boolean profile = type.equals("application/octet-stream") && !byCookie && AgentEndpoints.isBootProfileUpload(method, ctx.path());
        if (!json && !upload && !profile) {
            throw new ControllerException(ControllerException.Kind.UNSUPPORTED_MEDIA_TYPE,
                    "a " + method + " must send Content-Type: application/json" + (type.isEmpty() ? "" : ", not " + type));
        }
    }
}
