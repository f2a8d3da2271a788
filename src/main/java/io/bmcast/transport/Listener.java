package io.bmcast.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a server accepts connections: a Unix domain socket (a path) or a TCP address. Closing it stops
 * accepting and, for a Unix socket, removes the socket file.
 */
public final class Listener implements AutoCloseable {
    private final ServerSocketChannel channel;
    private final Path socketPath; // null for TCP
    private final String description;

    private Listener(ServerSocketChannel channel, Path socketPath, String description) {
        this.channel = channel;
        this.socketPath = socketPath;
        this.description = description;
    }

    /**
     * Listens on a Unix socket at {@code path}. A stale socket file left by a dead server is replaced;
     * one a live server still answers on is an error.
     */
    public static Listener unix(Path path) throws IOException {
        Path p = path.toAbsolutePath();
        if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            boolean live;
            try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
                live = true;
            } catch (IOException e) {
                live = false;
            }
            if (live) throw new IOException("socket " + p + " is in use by another server");
            Files.delete(p);
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(p), 128);
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot listen on " + p + ": " + e.getMessage(), e);
        }
        return new Listener(ch, p, "unix:" + p);
    }

    /** Listens on TCP {@code host:port}; port 0 picks a free port (see {@link #port()}). */
    public static Listener tcp(String host, int port) throws IOException {
        InetSocketAddress address = new InetSocketAddress(host, port);
        // An unresolved address makes bind throw UnresolvedAddressException, which carries no message.
        if (address.isUnresolved()) throw new IllegalArgumentException("cannot resolve the host name '" + host + "' to listen on");
        ServerSocketChannel ch = ServerSocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(address, 128);
        } catch (IOException e) {
            ch.close();
            throw new IOException("cannot listen on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        InetSocketAddress a = (InetSocketAddress) ch.getLocalAddress();
        return new Listener(ch, null, "tcp:" + a.getHostString() + ":" + a.getPort());
    }

    /** {@code HOST:PORT}, {@code :PORT} (all interfaces) or {@code [v6]:PORT}. */
    public static Listener tcp(String hostPort) throws IOException {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) throw new IllegalArgumentException("expected HOST:PORT, got '" + hostPort + "'");
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        if (host.isEmpty()) host = "0.0.0.0";
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in '" + hostPort + "'");
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port out of range in '" + hostPort + "'");
        return tcp(host, port);
    }

    SocketChannel accept() throws IOException {
        SocketChannel c = channel.accept();
        if (socketPath == null) c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        return c;
    }

    /** The TCP port listened on, or -1 for a Unix socket. */
    public int port() {
        if (socketPath != null) return -1;
        try {
            return ((InetSocketAddress) channel.getLocalAddress()).getPort();
        } catch (IOException e) {
            return -1;
        }
    }

    /** The Unix socket path, or null for TCP. */
    public Path socketPath() {
        return socketPath;
    }

    /** An NBD URI for export {@code name} on this listener (loopback host for a wildcard TCP address). */
    public String uri(String name) {
        if (socketPath != null) return "nbd+unix:///" + name + "?socket=" + socketPath;
        String host = description.substring(4, description.lastIndexOf(':'));
        if (host.equals("0.0.0.0") || host.equals("::")) host = "localhost";
        if (host.contains(":")) host = "[" + host + "]";
        return "nbd://" + host + ":" + port() + "/" + name;
    }

    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (socketPath != null) Files.deleteIfExists(socketPath);
        }
    }

    @Override
    public String toString() {
        return description;
    }
}
