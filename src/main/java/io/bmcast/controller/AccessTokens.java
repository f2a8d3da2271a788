package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.TokenRepository;
import io.bmcast.fleet.Api;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * Bearer tokens: the operator's and the agents' (files in the data directory, written once, mode 0600) and
 * the projects'. The database holds SHA-256 hashes only; a plain hash suffices because every token is 256
 * random bits (no dictionary to walk), and it lets a lookup be one indexed equality.
 */
public final class AccessTokens {
    public static final String ADMIN_FILE = "admin.token";
    public static final String JOIN_FILE = "join.token";
    private static final Pattern PROJECT_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Database db;
    private final TokenRepository tokens;
    private final LongSupplier clockMs;
    /** Tokens seen valid, by hash: tokens are never revoked, so a hit never goes stale. */
    private final ConcurrentHashMap<String, Principal> known = new ConcurrentHashMap<>();
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
        store(adminToken, new TokenRepository.Grant("operator", null));
        store(joinToken, new TokenRepository.Grant("join", null));
    }

    public String adminToken() {
        return adminToken;
    }

    public String joinToken() {
        return joinToken;
    }

    /** Who {@code token} is, or empty when it is no token of ours. */
    public Optional<Principal> resolve(String token) {
        if (token == null || token.isBlank()) return Optional.empty();
        String hash = hash(token.strip());
        Principal cached = known.get(hash);
        if (cached != null) return Optional.of(cached);
        Optional<Principal> found = db.read(tx -> tokens.find(tx, hash)).map(AccessTokens::principal);
        found.ifPresent(p -> known.put(hash, p));
        return found;
    }

    /** A new token for {@code project}: shown once, stored as its hash. */
    public Api.Token createProjectToken(String project) {
        if (project == null || !PROJECT_NAME.matcher(project).matches()) {
            throw ControllerException.invalid("a project name is 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
        }
        if (project.equals(Principal.OPERATOR_PROJECT)) {
            throw ControllerException.invalid("project '" + Principal.OPERATOR_PROJECT + "' holds the operator's instances; pick another name");
        }
        String token = newToken();
        store(token, new TokenRepository.Grant("project", project));
        return new Api.Token(token, project, "project");
    }

    private void store(String token, TokenRepository.Grant grant) {
        db.read(tx -> {
            tokens.addIfAbsent(tx, hash(token), grant, clockMs.getAsLong());
            return null;
        });
    }

    private static Principal principal(TokenRepository.Grant g) {
        return switch (g.role()) {
            case "operator" -> Principal.OPERATOR;
            case "join" -> Principal.AGENT;
            default -> Principal.project(g.project());
        };
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

    static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
