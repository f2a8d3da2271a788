package io.bmcast.imageserver;

import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * {@code bmcast image-server} and {@code bmcast serve-file}: parse the arguments, open the exports,
 * print one line saying what is served where, serve until SIGTERM or SIGINT, then shut down cleanly.
 * Bad arguments are {@link IllegalArgumentException}s with a message for the user.
 */
public final class ServeCommand {
    private ServeCommand() {}

    static final class Args {
        Path dir;
        Path file;
        Path socket;
        String listen;
        String rate;
        String latency;
        boolean writable;
    }

    static Args parse(String command, String[] argv) throws IllegalArgumentException {
        Args a = new Args();
        boolean imageServer = command.equals("image-server");
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            switch (arg) {
                case "--dir" -> { if (!imageServer) throw new IllegalArgumentException(command + ": unknown option --dir"); a.dir = Path.of(value(argv, ++i, arg)); }
                case "--socket" -> a.socket = Path.of(value(argv, ++i, arg));
                case "--listen" -> a.listen = value(argv, ++i, arg);
                case "--rate" -> a.rate = value(argv, ++i, arg);
                case "--latency" -> a.latency = value(argv, ++i, arg);
                case "--writable" -> { if (imageServer) throw new IllegalArgumentException("image-server exports are read-only (no --writable)"); a.writable = true; }
                default -> {
                    if (arg.startsWith("-") || imageServer || a.file != null) {
                        throw new IllegalArgumentException(command + ": unexpected argument '" + arg + "'");
                    }
                    a.file = Path.of(arg);
                }
            }
        }
        if (imageServer && a.dir == null) throw new IllegalArgumentException("image-server: --dir DIR is required");
        if (!imageServer && a.file == null) throw new IllegalArgumentException("serve-file: FILE is required");
        if ((a.socket == null) == (a.listen == null)) {
            throw new IllegalArgumentException(command + ": give exactly one of --socket PATH or --listen HOST:PORT");
        }
        try {
            LinkEmulator.parse(a.rate, a.latency);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(command + ": " + e.getMessage());
        }
        if (a.listen != null && a.listen.lastIndexOf(':') < 0) {
            throw new IllegalArgumentException(command + ": --listen wants HOST:PORT, got '" + a.listen + "'");
        }
        return a;
    }

    private static String value(String[] argv, int i, String option) throws IllegalArgumentException {
        if (i >= argv.length) throw new IllegalArgumentException(option + " needs a value");
        return argv[i];
    }

    /** Runs {@code image-server} or {@code serve-file}; returns when the server has shut down. */
    public static int run(String command, String[] argv) throws Exception {
        Args a = parse(command, argv);
        LinkEmulator link = LinkEmulator.parse(a.rate, a.latency);
        Map<String, Export> exports;
        NbdServer.Config config = NbdServer.Config.defaults();
        try {
            if (a.dir != null) {
                exports = ImageServer.exportsOf(a.dir, link);
            } else {
                if (!Files.exists(a.file)) throw new IllegalArgumentException("no such file: " + a.file);
                if (Files.isDirectory(a.file)) throw new IllegalArgumentException(a.file + " is a directory");
                FileExport fe = FileExport.open(a.file, !a.writable);
                exports = Map.of(fe.name(), ImageServer.wrap(fe, link));
                config = config.withDefaultExport(fe.name());
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(command + ": " + e.getMessage(), e);
        }
        configureLogging();
        NbdServer server = new NbdServer(exports, config);
        Listener listener;
        try {
            listener = a.socket != null ? Listener.unix(a.socket) : Listener.tcp(a.listen);
        } catch (IllegalArgumentException e) {
            server.close();
            throw new IllegalArgumentException(command + ": " + e.getMessage());
        } catch (Exception e) {
            server.close();
            throw e;
        }
        server.start(listener);
        Thread hook = new Thread(server::close, "nbd-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        StringBuilder line = new StringBuilder("serving ");
        boolean first = true;
        for (var e : exports.entrySet()) {
            if (!first) line.append(", ");
            first = false;
            line.append("'").append(e.getKey()).append("' (").append(e.getValue().size()).append(" bytes")
                    .append(e.getValue().readOnly() ? ", read-only" : ", writable").append(")");
        }
        line.append(" on ").append(listener);
        if (config.defaultExport() != null) line.append(" (also as the default export)");
        if (!link.isIdentity()) line.append(" with ").append(link);
        System.out.println(line);
        System.out.flush();
        server.awaitClosed();
        return 0;
    }

    /** One line per log record on stderr, unless the user configured logging. */
    static void configureLogging() {
        if (System.getProperty("java.util.logging.config.file") == null
                && System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT.%1$tL %4$s %5$s%6$s%n");
        }
    }
}
