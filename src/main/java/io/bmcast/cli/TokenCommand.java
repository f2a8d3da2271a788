package io.bmcast.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.ApiClient;
import io.bmcast.util.Units;
import io.bmcast.util.UsageException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code bmcast token create|ls|revoke|login}: project tokens (operator only) and dashboard login links. */
@Command(name = "token", mixinStandardHelpOptions = true, description = "Manage API tokens.",
        subcommands = {TokenCommand.Create.class, TokenCommand.List_.class, TokenCommand.Revoke.class, TokenCommand.Login.class})
public final class TokenCommand {
    static final TypeReference<List<Api.TokenInfo>> TOKENS = new TypeReference<>() {};

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Print a new token for a project: it sees, launches and destroys only that project's instances.")
    public static final class Create implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Option(names = "--project", required = true, paramLabel = "NAME", description = "the project") String project;
        @Option(names = "--ttl", paramLabel = "DURATION", description = "the token expires this long after now, e.g. 30d or 12h (default: never)")
        String ttl;

        @Override
        public Integer call() throws Exception {
            Long seconds = null;
            if (ttl != null) {
                long nanos;
                try {
                    nanos = Units.parseDurationNanos(ttl);
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--ttl must be a duration such as 30d, 12h or 90m, not '" + ttl + "'");
                }
                // a token expired before it is printed is a typo, not a wish
                if (nanos <= 0) throw new UsageException("--ttl must be longer than 0 (a token that expires at once is of no use)");
                seconds = Math.max(1, nanos / 1_000_000_000L);
            }
            Api.Token t = controller.client().post("api/v1/tokens", new Api.NewToken(project, seconds), ApiClient.TOKEN);
            controller.out().println(t.token());
            controller.err().println("token " + t.id() + " for project " + t.project()
                    + (t.expires() == null ? ", no expiry" : ", expires " + t.expires()) + "; it is shown this once");
            return 0;
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List tokens by id (operator token); never their secrets.")
    public static final class List_ implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Option(names = "--json", description = "print JSON objects (id, role, project, kind, created, expires)") boolean json;

        @Override
        public Integer call() throws Exception {
            List<Api.TokenInfo> tokens = controller.client().get("api/v1/tokens", TOKENS);
            if (json) {
                Fleet.printJson(controller.out(), tokens);
                return 0;
            }
            Table t = new Table("ID", "ROLE", "PROJECT", "KIND", "CREATED", "EXPIRES");
            for (Api.TokenInfo i : tokens) t.row(i.id(), i.role(), i.project(), i.kind(), i.created(), i.expires() == null ? "never" : i.expires());
            t.print(controller.out());
            return 0;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true,
            description = "Revoke a token (and the dashboard sessions opened with it): refused from now on, its event streams closed.")
    public static final class Revoke implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Parameters(paramLabel = "ID", description = "the token's id, as token ls shows it") String id;

        @Override
        public Integer call() throws Exception {
            controller.client().delete("api/v1/tokens/" + Paths.segment(id), null);
            controller.out().println("revoked " + id);
            return 0;
        }
    }

    @Command(name = "login", mixinStandardHelpOptions = true,
            description = "Print a one-time link that opens the dashboard as this token's owner (valid 15 minutes).")
    public static final class Login implements Callable<Integer> {
        @Mixin ControllerOptions controller;

        @Override
        public Integer call() throws Exception {
            ApiClient api = controller.client();
            Api.LoginCode code = api.post("api/v1/login-codes", java.util.Map.of(), new TypeReference<Api.LoginCode>() {});
            controller.out().println(api.base().resolve(code.path().substring(1)));
            return 0;
        }
    }
}
