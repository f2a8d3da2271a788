package io.bmcast.controller.http;

import com.fasterxml.jackson.core.JacksonException;
import io.bmcast.controller.ControllerException;
import io.bmcast.controller.store.StoreException;
import io.bmcast.fleet.Api;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Every failure as {@code {"error": "one sentence"}} with the status that says what kind it is. What the store or
 * an unexpected exception says stays in the controller's log: it may hold SQL, a statement's parameters or a
 * stack's details, none of which a client may see or needs.
 */
final class ErrorMapping {
    private static final Logger LOG = Logger.getLogger(ErrorMapping.class.getName());

    private ErrorMapping() {}

    static void register(RoutesConfig routes) {
        routes.exception(ControllerException.class, (e, ctx) -> error(ctx, status(e.kind()), e.getMessage()));
        routes.exception(StoreException.class, (e, ctx) -> {
            LOG.log(Level.WARNING, "database failure on " + ctx.method() + " " + ctx.path(), e);
            if (e.isDuplicateKey()) error(ctx, 409, "it exists already");
            else if (e.isBadValue()) error(ctx, 400, "a value in the request is too long or out of range for what the controller stores");
            else error(ctx, 503, "the database failed; the controller's log says why");
        });
        routes.exception(HttpResponseException.class, (e, ctx) -> {
            String message = e.getStatus() == 404 && "Not Found".equalsIgnoreCase(String.valueOf(e.getMessage()))
                    ? "no such endpoint: " + ctx.method() + " " + ctx.path()
                    : e.getMessage() != null && e.getMessage().startsWith("Endpoint ") ? "no such endpoint: " + ctx.method() + " " + ctx.path()
                    : e.getMessage();
            error(ctx, e.getStatus(), message);
        });
        routes.exception(Exception.class, (e, ctx) -> {
            if (e instanceof JacksonException || e.getCause() instanceof JacksonException) {
                error(ctx, 400, "the request body is not the JSON this endpoint expects: " + firstLine(e.getCause() != null ? e.getCause() : e));
                return;
            }
            LOG.log(Level.WARNING, "internal error on " + ctx.method() + " " + ctx.path(), e);
            error(ctx, 500, "internal error; the controller's log says why");
        });
    }

    static int status(ControllerException.Kind kind) {
        return switch (kind) {
            case INVALID -> 400;
            case UNAUTHENTICATED -> 401;
            case FORBIDDEN -> 403;
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case UNPROCESSABLE -> 422;
            case TOO_MANY -> 429;
            case UNAVAILABLE -> 503;
            case UNSUPPORTED_MEDIA_TYPE -> 415;
        };
    }

    private static void error(Context ctx, int status, String message) {
        ctx.status(status).json(new Api.Error(message));
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
