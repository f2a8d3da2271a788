package io.bmcast.controller.http;

import io.bmcast.controller.AccessTokens;
import io.bmcast.controller.ControllerException;
import io.bmcast.controller.Principal;
import io.javalin.http.Context;

/**
 * Who calls, from the bearer token (or the dashboard's session cookie), and what each role may call.
 * The cookie holds the token itself: HttpOnly (no script reads it), SameSite=Strict (no other site's page
 * sends it), and a restarted controller still accepts it, as Jupyter's login link works.
 */
final class Access {
    static final String SESSION_COOKIE = "bmcast_session";
    static final String PRINCIPAL = "bmcast.principal";
    private static final String HOLDER = "bmcast.holder";

    private final AccessTokens tokens;

    Access(AccessTokens tokens) {
        this.tokens = tokens;
    }

    /** Before every API call: no token or an unknown one is 401. */
    void authenticate(Context ctx) {
        String header = ctx.header("Authorization");
        String token = null;
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) token = header.substring(7).strip();
        else if (header == null) token = ctx.cookie(SESSION_COOKIE);
        if (token == null || token.isEmpty()) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ControllerException(ControllerException.Kind.UNAUTHENTICATED,
                    "this API needs a token: send 'Authorization: Bearer TOKEN' (the operator's is in DATA/admin.token)");
        }
        Principal who = tokens.resolve(token).orElseThrow(() -> {
            ctx.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return new ControllerException(ControllerException.Kind.UNAUTHENTICATED, "the token is not valid for this controller");
        });
        ctx.attribute(PRINCIPAL, who);
        ctx.attribute(HOLDER, hash(token));
    }

    /** Who holds what a request opens (its event streams): the SHA-256 of its token, never the token itself. */
    static String holder(Context ctx) {
        String h = ctx.attribute(HOLDER);
        if (h == null) throw new IllegalStateException("no token: route not behind authenticate");
        return h;
    }

    private static String hash(String token) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(token.strip().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    static Principal who(Context ctx) {
        Principal p = ctx.attribute(PRINCIPAL);
        if (p == null) throw new IllegalStateException("no principal: route not behind authenticate");
        return p;
    }

    /** Operator only (nodes, image changes, tokens, metrics). */
    static Principal operator(Context ctx) {
        Principal p = who(ctx);
        if (!p.isOperator()) throw ControllerException.forbidden("only the operator may do this");
        return p;
    }

    /** Agents (the join token) and the operator. */
    static Principal agent(Context ctx) {
        Principal p = who(ctx);
        if (p.role() == Principal.Role.PROJECT) throw ControllerException.forbidden("only agents (the join token) may do this");
        return p;
    }

    /** People and scripts: the operator and projects; the join token is for agents only. */
    static Principal user(Context ctx) {
        Principal p = who(ctx);
        if (p.role() == Principal.Role.AGENT) throw ControllerException.forbidden("the join token is for agents only; use the operator's or a project's token");
        return p;
    }

    /** Any valid token. */
    static Principal anyone(Context ctx) {
        return who(ctx);
    }

    /** {@code GET /login?token=T}: a valid token becomes the session cookie and the browser goes to the dashboard. */
    void login(Context ctx) {
        String token = ctx.queryParam("token");
        if (token == null || tokens.resolve(token).isEmpty()) {
            throw new ControllerException(ControllerException.Kind.UNAUTHENTICATED, "the login link's token is not valid for this controller");
        }
        io.javalin.http.Cookie cookie = new io.javalin.http.Cookie(SESSION_COOKIE, token.strip(), "/", -1, false, true, null,
                io.javalin.http.SameSite.STRICT);
        ctx.cookie(cookie);
        ctx.redirect("/");
    }
}
