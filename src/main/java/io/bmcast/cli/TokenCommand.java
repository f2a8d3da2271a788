package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;

import io.bmcast.fleet.Api;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bmcast token create --project NAME}: a token for one project (operator only). */
@Command(name = "token", mixinStandardHelpOptions = true, description = "Manage API tokens.",
        subcommands = TokenCommand.Create.class)
public final class TokenCommand {
    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Print a new token for a project: it sees, launches and destroys only that project's instances.")
    public static final class Create implements Callable<Integer> {
        @Mixin ControllerOptions controller;
        @Option(names = "--project", required = true, paramLabel = "NAME", description = "the project") String project;

        @Override
        public Integer call() throws Exception {
            Api.Token t = controller.client().post("api/v1/tokens", new Api.NewToken(project), ApiClient.TOKEN);
            controller.out().println(t.token());
            return 0;
        }
    }
}
