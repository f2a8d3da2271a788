package io.bmcast.controller.http;

import io.bmcast.controller.ControllerException;
import io.bmcast.util.Jackson;
import io.javalin.http.Context;
import java.io.IOException;

/** Request bodies, with one clear sentence when one is not what the endpoint expects. */
final class Bodies {
    private Bodies() {}

    /** The body as {@code type}, read no further than the route's limit ({@link BodyLimits}). */
    static <T> T json(Context ctx, Class<T> type) throws IOException {
        String body = new String(BodyLimits.read(ctx), java.nio.charset.StandardCharsets.UTF_8);
        if (body.isBlank()) throw ControllerException.invalid("this endpoint needs a JSON body (" + type.getSimpleName() + ")");
        try {
            T value = Jackson.MAPPER.readValue(body, type);
            if (value == null) throw ControllerException.invalid("this endpoint needs a JSON object (" + type.getSimpleName() + "), not null");
            return value;
        } catch (IOException e) {
            String why = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
            throw ControllerException.invalid("the body is not a valid " + type.getSimpleName() + " in JSON: " + why);
        }
    }

    static long longHeader(String value, String name) {
        try {
            return Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            throw ControllerException.invalid("header " + name + " must be a whole number, not '" + value + "'");
        }
    }

    static long longParam(Context ctx, String name, long absent) {
        String v = ctx.queryParam(name);
        if (v == null || v.isBlank()) return absent;
        try {
            return Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw ControllerException.invalid("query parameter '" + name + "' must be a whole number, not '" + v + "'");
        }
    }
}
