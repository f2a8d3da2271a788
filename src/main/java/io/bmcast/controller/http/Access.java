package io.bmcast.controller.http;

import io.bmcast.controller.AccessTokens;
import io.bmcast.controller.ControllerException;
import io.bmcast.controller.Credential;
import io.bmcast.controller.Principal;
import io.javalin.http.Context;

/**
 * Who calls, from the bearer token (or the dashboard's session cookie), and what each role may call.
 * The cookie holds a session token made from a one-time login code ({@link #login}): HttpOnly (no script
 * reads it), SameSite=Strict (no other site's page sends it), Secure under HTTPS, and it expires; a
 * restarted controller still accepts it (sessions are stored like tokens), and revoking the token whose
 * code made it ends it. Mutating calls also pass {@link SameOrigin}.
 */
final class Access {
    static final String SESSION_COOKIE = "bmcast_session";
    static final String PRINCIPAL = "bmcast.principal";
    private static final String CREDENTIAL = "bmcast.credential";
    private static final String HOLDER = "bmcast.holder";

    private final AccessTokens tokens;

    Access(AccessTokens tokens) {
        this.tokens = tokens;
    }

    /** Before every API call: no token or an unknown one is 401; a mutating call must pass {@link SameOrigin}. */
    void authenticate(Context ctx) {
        String header = ctx.header("Authorization");
        String token = null;
        boolean byCookie = false;
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            token = header.substring(7).strip();
        } else if (header == null) {
            token = ctx.cookie(SESSION_COOKIE);
            byCookie = token != null;
        }
        if (token == null || token.isEmpty()) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ControllerException(ControllerException.Kind.UNAUTHENTICATED,
                    "this API needs a token: send 'Authorization: Bearer TOKEN' (the operator's is in DATA/admin.token)");
        }
        AccessTokens.Resolved who = tokens.resolveCredential(token).orElseThrow(() -> {
            ctx.header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return new ControllerException(ControllerException.Kind.UNAUTHENTICATED,
                    "the token is not valid for this controller (unknown, revoked or expired)");
        });
        SameOrigin.check(ctx, byCookie);
        ctx.attribute(PRINCIPAL, who.principal());
        ctx.attribute(CREDENTIAL, who.credential());
        ctx.attribute(HOLDER, AccessTokens.hash(token.strip()));
    }

    /** Who holds what a request opens (its event streams): the SHA-256 of its token, never the token itself. */
    static String holder(Context ctx) {
        String h = ctx.attribute(HOLDER);
        if (h == null) throw new IllegalStateException("no token: route not behind authenticate");
        return h;
    }

    static Principal who(Context ctx) {
        Principal p = ctx.attribute(PRINCIPAL);
        if (p == null) throw new IllegalStateException("no principal: route not behind authenticate");
        return p;
    }

    /** The stored token behind the caller (for a stream that must end when it is revoked). */
    static Credential credential(Context ctx) {
        Credential c = ctx.attribute(CREDENTIAL);
        if (c == null) throw new IllegalStateException("no credential: route not behind authenticate");
        return c;
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

    /**
     * {@code GET /login?code=C}: a one-time login code (printed by the controller at start, or by
     * {@code bmcast token login}) becomes a session cookie and the browser goes to the dashboard. Tokens are
     * not taken in links: a URL ends up in browser history, proxy logs and screenshots, and a login link's
     * token would be the long-lived one (and the join token, an agent's, opens no dashboard).
     */
    void login(Context ctx) {
        if (ctx.queryParam("token") != null) {
            throw new ControllerException(ControllerException.Kind.UNAUTHENTICATED,
                    "login links carry a one-time code, not a token: run `bmcast token login` for a new link");
        }
        String session = tokens.redeem(ctx.queryParam("code")).orElseThrow(() -> new ControllerException(
                ControllerException.Kind.UNAUTHENTICATED,
                "this login link is not valid (unknown, used or expired): run `bmcast token login` for a new one"));
        boolean secure = ctx.req().isSecure();
        io.javalin.http.Cookie cookie = new io.javalin.http.Cookie(SESSION_COOKIE, session, "/", -1, secure, true, null,
                io.javalin.http.SameSite.STRICT);
        ctx.header("Cache-Control", "no-store");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.cookie(cookie);
        ctx.redirect("/");
    }
}
