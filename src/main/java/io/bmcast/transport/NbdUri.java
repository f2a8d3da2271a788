package io.bmcast.transport;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An NBD URI as libnbd, qemu and nbdkit write them (NetworkBlockDevice/nbd, doc/uri.md), limited to what
 * bmcast speaks: TCP and Unix sockets, plaintext or TLS.
 *
 * <pre>
 *   nbd://host[:port]/export           TCP, port 10809 by default; IPv6 hosts in brackets
 *   nbd+unix:///export?socket=PATH     Unix domain socket
 *   nbds://..., nbds+unix://...        the same with TLS required (NBD_OPT_STARTTLS), never plaintext
 * </pre>
 * The export name is the path after the first slash, percent-decoded (empty means the default export).
 * {@link #toString()} prints the canonical form, which {@link #parse} reads back to an equal value.
 */
public record NbdUri(Endpoint endpoint, String exportName, boolean tls) {

    public NbdUri {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(exportName, "exportName");
    }

    /** A plaintext URI. */
    public NbdUri(Endpoint endpoint, String exportName) {
        this(endpoint, exportName, false);
    }

    /** The same export with TLS required. */
    public NbdUri withTls() {
        return new NbdUri(endpoint, exportName, true);
    }

    public static NbdUri tcp(String host, int port, String exportName) {
        return new NbdUri(new Endpoint.Tcp(host, port), exportName);
    }

    public static NbdUri unix(Path socket, String exportName) {
        return new NbdUri(new Endpoint.Unix(socket), exportName);
    }

    public static NbdUri parse(String text) {
        int sep = text.indexOf("://");
        if (sep < 0) throw new IllegalArgumentException("not an NBD URI (expected nbd://... or nbd+unix://...): '" + text + "'");
        String scheme = text.substring(0, sep);
        String rest = text.substring(sep + 3);
        if (rest.indexOf('#') >= 0) throw new IllegalArgumentException("fragment not allowed in NBD URI '" + text + "'");
        String query = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            query = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        int slash = rest.indexOf('/');
        String authority = slash < 0 ? rest : rest.substring(0, slash);
        String name = slash < 0 ? "" : decode(rest.substring(slash + 1), text);
        String socket = null;
        if (query != null && !query.isEmpty()) {
            for (String param : query.split("[&;]")) {
                if (param.isEmpty()) continue;
                int eq = param.indexOf('=');
                String key = eq < 0 ? param : param.substring(0, eq);
                String value = eq < 0 ? "" : decode(param.substring(eq + 1), text);
                switch (key) {
                    case "socket" -> socket = value;
                    default -> throw new IllegalArgumentException("unsupported query parameter '" + key + "' in NBD URI '" + text + "'");
                }
            }
        }
        boolean tls = scheme.startsWith("nbds");
        if (tls) scheme = "nbd" + scheme.substring(4);
        switch (scheme) {
            case "nbd", "nbd+tcp" -> {
                if (socket != null) throw new IllegalArgumentException("'socket=' needs the nbd+unix scheme: '" + text + "'");
                if (authority.indexOf('@') >= 0) throw new IllegalArgumentException("user info not supported in NBD URI '" + text + "'");
                if (authority.isEmpty()) throw new IllegalArgumentException("missing host in NBD URI '" + text + "'");
                return new NbdUri(Endpoint.parseTcp(decode(authority, text)), name, tls);
            }
            case "nbd+unix" -> {
                if (!authority.isEmpty()) throw new IllegalArgumentException("nbd+unix URI must not name a host (use nbd+unix:///export?socket=PATH): '" + text + "'");
                if (socket == null || socket.isEmpty()) throw new IllegalArgumentException("nbd+unix URI needs ?socket=PATH: '" + text + "'");
                return new NbdUri(new Endpoint.Unix(Path.of(socket)), name, tls);
            }
            case "nbd+vsock" -> throw new IllegalArgumentException("vsock not supported: '" + text + "'");
            default -> throw new IllegalArgumentException("unknown URI scheme '" + text.substring(0, sep)
                    + "' (expected nbd, nbd+unix, nbds or nbds+unix): '" + text + "'");
        }
    }

    @Override
    public String toString() {
        return switch (endpoint) {
            case Endpoint.Tcp t -> (tls ? "nbds://" : "nbd://") + t + "/" + encode(exportName, false);
            case Endpoint.Unix u -> (tls ? "nbds+unix:///" : "nbd+unix:///") + encode(exportName, false) + "?socket=" + encode(u.path().toString(), true);
        };
    }

    private static String decode(String s, String text) {
        if (s.indexOf('%') < 0) return s;
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length()) throw new IllegalArgumentException("truncated percent escape in '" + text + "'");
                int hi = Character.digit(s.charAt(i + 1), 16), lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) throw new IllegalArgumentException("bad percent escape '" + s.substring(i, i + 3) + "' in '" + text + "'");
                out.write(hi << 4 | lo);
                i += 2;
            } else {
                int end = s.indexOf('%', i);
                if (end < 0) end = s.length();
                out.writeBytes(s.substring(i, end).getBytes(StandardCharsets.UTF_8));
                i = end - 1;
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Percent-encodes all but RFC 3986 unreserved characters (and '/' in paths). */
    private static String encode(String s, boolean query) {
        StringBuilder sb = new StringBuilder(s.length());
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            boolean plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || (!query && (c == ':' || c == '@'));
            if (plain) sb.append((char) c);
            else sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16))).append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
        }
        return sb.toString();
    }
}
