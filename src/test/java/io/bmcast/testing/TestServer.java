package io.bmcast.testing;

import io.bmcast.storage.FileExport;
import io.bmcast.transport.Export;
import io.bmcast.transport.Listener;
import io.bmcast.transport.NbdServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Our NBD server in-process on a Unix socket (or TCP) in a temp dir, for tests. */
public final class TestServer implements AutoCloseable {
    public final NbdServer server;
    public final Listener listener;

    private TestServer(NbdServer server, Listener listener) {
        this.server = server;
        this.listener = listener;
    }

    public static Builder on(Path dir) {
        return new Builder(dir);
    }

    public static final class Builder {
        private final Path dir;
        private final Map<String, Export> exports = new LinkedHashMap<>();
        private String defaultExport;
        private boolean tcp;
        private io.bmcast.transport.TlsCredentials tls;
        private NbdServer.Limits limits = NbdServer.Limits.defaults();

        Builder(Path dir) {
            this.dir = dir;
        }

        public Builder file(String name, Path file, boolean writable) throws IOException {
            exports.put(name, new FileExport(name, "test file " + file.getFileName(), file, !writable));
            return this;
        }

        public Builder export(String name, Export e) {
            exports.put(name, e);
            return this;
        }

        public Builder defaultExport(String name) {
            this.defaultExport = name;
            return this;
        }

        public Builder limits(NbdServer.Limits l) {
            this.limits = l;
            return this;
        }

        public Builder tcp() {
            this.tcp = true;
            return this;
        }

        /** Requires TLS with the server credentials in {@code dir} (QEMU's layout). */
        public Builder tls(Path dir, boolean verifyPeer) throws IOException {
            this.tls = io.bmcast.transport.TlsCredentials.server(dir, verifyPeer);
            return this;
        }

        public TestServer start() throws IOException {
            NbdServer s = new NbdServer(exports, NbdServer.Config.defaults().withDefaultExport(defaultExport).withLimits(limits));
            if (tls != null) s.requireTls(tls);
            Listener l = tcp ? Listener.tcp("127.0.0.1", 0) : Listener.unix(dir.resolve("nbd.sock"));
            s.start(l);
            return new TestServer(s, l);
        }
    }

    public String uri(String name) {
        return listener.uri(name);
    }

    /** The {@code nbds://} or {@code nbds+unix://} URI of export {@code name} (TCP: host name localhost). */
    public String tlsUri(String name) {
        return listener.uri(name).replaceFirst("^nbd", "nbds").replace("//127.0.0.1:", "//localhost:");
    }

    public Path socket() {
        return listener.socketPath();
    }

    @Override
    public void close() {
        server.close();
    }
}
