package io.bmcast.cli;

import io.bmcast.fleet.ApiClient;
import io.bmcast.fleet.ControllerTls;

import io.bmcast.util.UsageException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.PrintWriter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Where the controller is and which token to show it: options shared by every fleet command. */
public final class ControllerOptions {
    @Option(names = "--controller", paramLabel = "URL",
            description = "the controller's URL (default: $BMCAST_CONTROLLER, else http://127.0.0.1:8080)")
    String controller;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "a file holding the API token (default: the token in $BMCAST_TOKEN)")
    Path tokenFile;

    @Option(names = "--ca-cert", paramLabel = "FILE",
            description = "the CA (PEM) that signed an https:// controller's certificate (default: $BMCAST_CA_CERT, else the system's CAs)")
    Path caCert;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /**
     * Where the command prints its results: the command line's writer (standard output when run as {@code bmcast},
     * the caller's stream when run through {@link Main#run}), never {@code System.out} directly.
     */
    public PrintWriter out() {
        return command.commandLine().getOut();
    }

    /** Where progress and warnings go (standard error). */
    public PrintWriter err() {
        return command.commandLine().getErr();
    }

    public ApiClient client() throws IOException {
        String url = controller != null ? controller : System.getenv().getOrDefault("BMCAST_CONTROLLER", "http://127.0.0.1:8080");
        URI base;
        try {
            base = URI.create(url.endsWith("/") ? url : url + "/");
            if (base.getScheme() == null || !base.getScheme().startsWith("http") || base.getHost() == null) throw new IllegalArgumentException();
        } catch (IllegalArgumentException e) {
            throw new UsageException("--controller must be an http(s) URL such as http://127.0.0.1:8080, not '" + url + "'");
        }
        String token;
        if (tokenFile != null) {
            if (!Files.isReadable(tokenFile)) throw new UsageException("cannot read the token file " + tokenFile);
            token = Files.readString(tokenFile).strip();
            if (token.isEmpty()) throw new UsageException("the token file " + tokenFile + " is empty");
        } else {
            token = System.getenv("BMCAST_TOKEN");
            if (token == null || token.isBlank()) {
                throw new UsageException("no API token: set BMCAST_TOKEN or pass --token-file FILE"
                        + " (the operator's token is the controller's DATA/admin.token)");
            }
            token = token.strip();
        }
        Path ca = ControllerTls.caCert(caCert);
        if (ca != null && !Files.isReadable(ca)) throw new UsageException("cannot read the CA certificate file " + ca);
        try {
            return new ApiClient(base, token, ca);
        } catch (IOException e) {
            throw new UsageException(e.getMessage());
        }
    }
}
