package io.bmcast.transport;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where an NBD server listens: a TCP host and port, or a Unix domain socket path.
 *
 * <p>Text forms ({@link #parse}): {@code unix:/run/img.sock} or any path containing a slash for a Unix socket;
 * {@code host:port}, {@code [::1]:port} or a bare {@code host} (port 10809) for TCP.
 */
public sealed interface Endpoint {
    int DEFAULT_PORT = 10809;

    record Tcp(String host, int port) implements Endpoint {
        public Tcp {
            Objects.requireNonNull(host, "host");
            if (host.isEmpty()) throw new IllegalArgumentException("empty host");
            if (port < 1 || port > 65535) throw new IllegalArgumentException("port out of range: " + port);
        }

        @Override
        public SocketAddress address() {
            return new InetSocketAddress(host, port);
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    record Unix(Path path) implements Endpoint {
        public Unix {
            Objects.requireNonNull(path, "path");
        }

        @Override
        public SocketAddress address() {
            return UnixDomainSocketAddress.of(path);
        }

        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    static Endpoint tcp(String host, int port) {
        return new Tcp(host, port);
    }

    static Endpoint unix(Path path) {
        return new Unix(path);
    }

    static Endpoint parse(String text) {
        String s = text.trim();
        if (s.startsWith("unix:")) return new Unix(Path.of(s.substring(5)));
        if (s.indexOf('/') >= 0) return new Unix(Path.of(s));
        return parseTcp(s);
    }

    /** {@code host}, {@code host:port} or {@code [v6addr]:port}. */
    static Tcp parseTcp(String text) {
        String s = text.trim();
        if (s.isEmpty()) throw new IllegalArgumentException("empty host");
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) throw new IllegalArgumentException("unclosed '[' in address '" + text + "'");
            String host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (rest.isEmpty()) return new Tcp(host, DEFAULT_PORT);
            if (!rest.startsWith(":")) throw new IllegalArgumentException("expected ':port' after ']' in '" + text + "'");
            return new Tcp(host, parsePort(rest.substring(1), text));
        }
        int colon = s.lastIndexOf(':');
        if (colon < 0) return new Tcp(s, DEFAULT_PORT);
        if (s.indexOf(':') != colon) throw new IllegalArgumentException("IPv6 address needs brackets: '" + text + "'");
        return new Tcp(s.substring(0, colon), parsePort(s.substring(colon + 1), text));
    }

    private static int parsePort(String port, String text) {
        try {
            int p = Integer.parseInt(port);
            if (p < 1 || p > 65535) throw new NumberFormatException();
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port '" + port + "' in '" + text + "'");
        }
    }

    SocketAddress address();

    /** Opens a blocking channel connected to this endpoint (TCP_NODELAY set for TCP). */
    default SocketChannel connect() throws IOException {
        SocketChannel ch = open();
        try {
            ch.connect(address());
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * Opens an unconnected blocking channel of the right family (TCP_NODELAY set for TCP), for a caller that
     * wants to bound {@code connect} by closing the channel from another thread.
     */
    default SocketChannel open() throws IOException {
        if (this instanceof Tcp t) {
            InetSocketAddress inet = (InetSocketAddress) address();
            if (inet.isUnresolved()) throw new UnknownHostException(t.host());
            SocketChannel ch = SocketChannel.open(inet.getAddress() instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            return ch;
        }
        return SocketChannel.open(StandardProtocolFamily.UNIX);
    }
}
