package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.TokenRepository;
import io.bmcast.fleet.Api;
import io.bmcast.util.Sha256;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * Bearer tokens: the operator's and the agents' (files in the data directory, written once, mode 0600), the
 * projects' (made by the operator, optionally expiring), and dashboard sessions (made from one-time login
 * codes). The database holds SHA-256 hashes only; a plain hash suffices because every token is 256 random
 * bits (no dictionary to walk), and it lets a lookup be one indexed equality. Each token also has a public
 * id, the handle by which it is listed and revoked.
 */
public final class AccessTokens {
    public static final String ADMIN_FILE = "admin.token";
    public static final String JOIN_FILE = "join.token";
    /** How long a login code may wait to be used: it is printed for a person to click, once. */
    static final Duration LOGIN_CODE_TTL = Duration.ofMinutes(15);
    /** How long a dashboard session lasts; the next one needs a new login link. */
    static final Duration SESSION_TTL = Duration.ofHours(12);
    /** Login codes not yet used, at most: each is 32 bytes of memory, and minting one needs a token. */
    static final int MAX_LOGIN_CODES = 1000;
    private static final Pattern PROJECT_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
    private static final Pattern TOKEN_ID = Pattern.compile("tok-[0-9a-f]{12}");
    private static final Logger LOG = Logger.getLogger(AccessTokens.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Who a token is, and which stored token (for revocation and expiry). */
    public record Resolved(Principal principal, Credential credential) {}

    /** A login code's promise: a session for this principal, made from this token, if used before expiry. */
    private record LoginCode(Principal principal, String tokenId, long expiresAtMs) {}

    private final Database db;
    private final TokenRepository tokens;
    private final LongSupplier clockMs;
    /**
     * Tokens seen valid, by hash. Revocation here removes the entry; expiry is checked on every hit. (Another
     * controller on the same database revoking a token is seen by this one only once it restarts: one
     * controller per database is the supported setup.)
     */
    private final ConcurrentHashMap<String, Resolved> known = new ConcurrentHashMap<>();
    /** Unused login codes, by hash of the code. */
    private final ConcurrentHashMap<String, LoginCode> codes = new ConcurrentHashMap<>();
    private final List<Consumer<String>> revocationListeners = new CopyOnWriteArrayList<>();
    private String adminToken;
    private String joinToken;

    public AccessTokens(Database db, TokenRepository tokens, LongSupplier clockMs) {
        this.db = db;
        this.tokens = tokens;
        this.clockMs = clockMs;
    }

    /** Reads (or at first start writes) the token files of {@code dataDir} and makes sure the database knows them. */
    public void initialize(Path dataDir) throws IOException {
        adminToken = tokenFile(dataDir.resolve(ADMIN_FILE));
        joinToken = tokenFile(dataDir.resolve(JOIN_FILE));
        store(adminToken, TokenRepository.Grant.api(newId(), "operator", null, null));
        store(joinToken, TokenRepository.Grant.api(newId(), "join", null, null));
        db.read(tx -> {
            for (String hash : tokens.hashesWithoutId(tx)) tokens.assignIdIfMissing(tx, hash, newId());
            tokens.deleteExpired(tx, clockMs.getAsLong());
            return null;
        });
        forgetReplacedFileTokens();
    }

    /**
     * The files are the truth for the operator's and the join token: one replaced by hand (a rotation, e.g. after a
     * leak) must stop working at this start, with the dashboard sessions opened from it, not stay valid beside the new.
     */
    private void forgetReplacedFileTokens() {
        Set<String> current = db.read(tx -> {
            Set<String> ids = new HashSet<>();
            for (String t : List.of(adminToken, joinToken)) tokens.find(tx, hash(t)).ifPresent(g -> ids.add(g.id()));
            return ids;
        });
        List<String> gone = db.transaction(tx -> {
            List<String> removed = new ArrayList<>();
            for (TokenRepository.Row r : tokens.list(tx)) {
                TokenRepository.Grant g = r.grant();
                boolean fileToken = g.kind().equals("api") && (g.role().equals("operator") || g.role().equals("join"));
                if (fileToken && !current.contains(g.id())) {
                    tokens.delete(tx, g.id());
                    removed.add(g.role());
                }
            }
            return removed;
        });
        for (String role : gone) {
            LOG.info("the " + (role.equals("join") ? "join token" : "operator's token") + " was replaced in its file: the previous one no longer works");
        }
    }

    /** {@code listener} hears the id of every token revoked (and of the sessions made from it). */
    public void onRevoked(Consumer<String> listener) {
        revocationListeners.add(listener);
    }

    public String adminToken() {
        return adminToken;
    }

    public String joinToken() {
        return joinToken;
    }

    /** Who {@code token} is, or empty when it is no token of ours (or no longer: revoked, expired). */
    public Optional<Principal> resolve(String token) {
        return resolveCredential(token).map(Resolved::principal);
    }

    /** {@link #resolve}, with which stored token it was. */
    public Optional<Resolved> resolveCredential(String token) {
        if (token == null || token.isBlank()) return Optional.empty();
        String hash = hash(token.strip());
        Resolved cached = known.get(hash);
        if (cached == null) {
            cached = db.read(tx -> tokens.find(tx, hash)).map(AccessTokens::resolved).orElse(null);
            if (cached == null) return Optional.empty();
            known.put(hash, cached);
        }
        if (cached.credential().expired(clockMs.getAsLong())) {
            known.remove(hash);
            return Optional.empty();
        }
        return Optional.of(cached);
    }

    /** A new token for {@code project}, expiring after {@code ttl} (null: never): shown once, stored as its hash. */
    public Api.Token createProjectToken(String project, Duration ttl) {
        if (project == null || !PROJECT_NAME.matcher(project).matches()) {
            throw ControllerException.invalid("a project name is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
        }
        if (project.equals(Principal.OPERATOR_PROJECT)) {
            throw ControllerException.invalid("project '" + Principal.OPERATOR_PROJECT + "' holds the operator's instances; pick another name");
        }
        if (ttl != null && (ttl.isNegative() || ttl.isZero() || ttl.compareTo(Duration.ofDays(3650)) > 0)) {
            throw ControllerException.invalid("a token's time to live must be positive and at most 10 years");
        }
        Long expires = ttl == null ? null : clockMs.getAsLong() + ttl.toMillis();
        String token = newToken();
        String id = newId();
        store(token, TokenRepository.Grant.api(id, "project", project, expires));
        return new Api.Token(token, project, "project", id, expires == null ? null : Instant.ofEpochMilli(expires).toString());
    }

    /** Every stored token, without secrets; expired ones are deleted first. */
    public List<Api.TokenInfo> list() {
        return db.read(tx -> {
            tokens.deleteExpired(tx, clockMs.getAsLong());
            return tokens.list(tx);
        }).stream().map(AccessTokens::info).toList();
    }

    /**
     * Revokes the token {@code id} and the dashboard sessions made from it: they fail from the next request,
     * and their open event streams are closed. The operator's and the join token live in files and cannot be.
     */
    public Api.TokenInfo revoke(String id) {
        if (id == null || !TOKEN_ID.matcher(id).matches()) throw ControllerException.notFound("no token " + id + " (ids look like tok-0123456789ab; see token ls)");
        TokenRepository.Grant g = db.read(tx -> tokens.findById(tx, id))
                .orElseThrow(() -> ControllerException.notFound("no token " + id + " (see token ls)"));
        if (g.kind().equals("api") && (g.role().equals("operator") || g.role().equals("join"))) {
            throw ControllerException.conflict("token " + id + " is the " + (g.role().equals("join") ? "join token" : "operator's token")
                    + " from the controller's data directory; it cannot be revoked (replace the file and restart the controller)");
        }
        List<String> hashes = db.transaction(tx -> tokens.delete(tx, id));
        for (String h : hashes) known.remove(h);
        for (Consumer<String> l : revocationListeners) l.accept(id);
        return info(new TokenRepository.Row(g, 0));
    }

    /** A one-time login code for whoever {@code who} is (not an agent), valid {@link #LOGIN_CODE_TTL}. */
    public Api.LoginCode loginCode(Principal who, Credential from) {
        if (who.role() == Principal.Role.AGENT) throw ControllerException.forbidden("the join token is for agents; it opens no dashboard");
        long now = clockMs.getAsLong();
        codes.values().removeIf(c -> now >= c.expiresAtMs());
        if (codes.size() >= MAX_LOGIN_CODES) throw ControllerException.conflict("too many unused login codes; try again in a few minutes");
        String code = newToken();
        long expires = now + LOGIN_CODE_TTL.toMillis();
        codes.put(hash(code), new LoginCode(who, from == null ? null : from.tokenId(), expires));
        return new Api.LoginCode("/login?code=" + code, Instant.ofEpochMilli(expires).toString());
    }

    /** The operator's login code, for the link the controller prints at start. */
    public Api.LoginCode operatorLoginCode() {
        return loginCode(Principal.OPERATOR, resolveCredential(adminToken).map(Resolved::credential).orElse(null));
    }

    /**
     * Exchanges a login code (once) for a new session token, stored like any other with an expiry and tied to
     * the token that asked for the code; empty when the code is unknown, used or expired.
     */
    public Optional<String> redeem(String code) {
        if (code == null || code.isBlank()) return Optional.empty();
        LoginCode c = codes.remove(hash(code.strip()));
        long now = clockMs.getAsLong();
        if (c == null || now >= c.expiresAtMs()) return Optional.empty();
        // Expired sessions go as new ones come, so logins cannot pile rows up; a revoked parent gives no session.
        boolean parentGone = db.read(tx -> {
            tokens.deleteExpired(tx, now);
            return c.tokenId() != null && tokens.findById(tx, c.tokenId()).isEmpty();
        });
        if (parentGone) return Optional.empty();
        String session = newToken();
        String role = switch (c.principal().role()) {
            case OPERATOR -> "operator";
            case PROJECT -> "project";
            case AGENT -> throw new IllegalStateException("no agent gets a login code");
        };
        store(session, new TokenRepository.Grant(newId(), role, c.principal().role() == Principal.Role.PROJECT ? c.principal().project() : null,
                "session", now + SESSION_TTL.toMillis(), c.tokenId()));
        return Optional.of(session);
    }

    private void store(String token, TokenRepository.Grant grant) {
        db.read(tx -> {
            tokens.addIfAbsent(tx, hash(token), grant, clockMs.getAsLong());
            return null;
        });
    }

    private static Resolved resolved(TokenRepository.Grant g) {
        Principal p = switch (g.role()) {
            case "operator" -> Principal.OPERATOR;
            case "join" -> Principal.AGENT;
            default -> Principal.project(g.project());
        };
        return new Resolved(p, new Credential(g.id(), g.parentId(), g.expiresAtMs() == null ? Long.MAX_VALUE : g.expiresAtMs()));
    }

    private static Api.TokenInfo info(TokenRepository.Row r) {
        TokenRepository.Grant g = r.grant();
        return new Api.TokenInfo(g.id(), g.role(), g.project(), g.kind(), r.createdAtMs() == 0 ? null : Instant.ofEpochMilli(r.createdAtMs()).toString(),
                g.expiresAtMs() == null ? null : Instant.ofEpochMilli(g.expiresAtMs()).toString());
    }

    /** The token in {@code file}, creating the file (0600, before any byte is written) when it is absent. */
    private static String tokenFile(Path file) throws IOException {
        if (!Files.exists(file)) {
            String token = newToken();
            try {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(file, token + "\n");
                return token;
            } catch (FileAlreadyExistsException raced) {
                // another controller on the same directory wrote it first: use theirs
            }
        }
        String token = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (token.isEmpty()) throw new IOException(file + " is empty: remove it to have a new token written");
        return token;
    }

    private static String newToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return "bmc_" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** A public id: 48 random bits, enough that ids of one controller's tokens never meet. */
    private static String newId() {
        byte[] bytes = new byte[6];
        RANDOM.nextBytes(bytes);
        return "tok-" + HexFormat.of().formatHex(bytes);
    }

    /** A token's SHA-256 in hex: what the database keeps, and what names a token's holder without the token. */
    public static String hash(String token) {
        return Sha256.hex(token.getBytes(StandardCharsets.UTF_8));
    }
}
