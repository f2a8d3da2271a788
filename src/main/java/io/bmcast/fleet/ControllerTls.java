package io.bmcast.fleet;

import io.bmcast.transport.TlsCredentials;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * How the CLI and the agents trust an HTTPS controller: the CA in {@code --ca-cert FILE} (or
 * {@code $BMCAST_CA_CERT}), else the system's trust store; the certificate is checked with its host name, as
 * any HTTPS client does. Also the one sentence a failed handshake becomes: a JDK's handshake errors name
 * neither the controller nor the file the operator would change.
 */
public final class ControllerTls {
    public static final String CA_ENV = "BMCAST_CA_CERT";

    private ControllerTls() {}

    /** {@code option} if given, else {@code $BMCAST_CA_CERT} if set, else null (the system's trust store). */
    public static Path caCert(Path option) {
        if (option != null) return option;
        String env = System.getenv(CA_ENV);
        return env == null || env.isBlank() ? null : Path.of(env.strip());
    }

    /** The TLS context of a client that trusts {@code caFile}, or the system's CAs when it is null. */
    public static SSLContext context(Path caFile) throws IOException {
        if (caFile != null) return TlsCredentials.httpsClient(caFile);
        try {
            return SSLContext.getDefault();
        } catch (NoSuchAlgorithmException e) {
            throw new IOException("this JVM has no default TLS context: " + e.getMessage(), e);
        }
    }

    /**
     * What a failure to talk to {@code base} means when it is a TLS failure (null when it is not): a certificate
     * for another name, one no trusted CA signed, or a controller that does not speak HTTPS at all.
     */
    public static String explain(URI base, Path caFile, Throwable failure) {
        String trusted = caFile == null ? "the system's trust store" : "the CA in " + caFile;
        String giveCa = caFile == null ? "; give the controller's CA with --ca-cert FILE or " + CA_ENV : "";
        boolean tls = false;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (t instanceof SSLException) tls = true;
            if (m.contains("No subject alternative") || m.contains("No name matching")) {
                return "the controller at " + base + " presented a certificate that is not for the host '" + base.getHost()
                        + "' (checked against " + trusted + "); use a name its certificate lists";
            }
            if (m.contains("PKIX path") || m.contains("unable to find valid certification path")) {
                return "the controller at " + base + " presented a certificate that " + trusted + " does not vouch for" + giveCa;
            }
            if (m.contains("Unsupported or unrecognized SSL message") || m.contains("plaintext connection")) {
                return "the controller at " + base + " does not speak HTTPS; use an http:// URL (or start it with --tls-dir)";
            }
            if (m.contains("NotAfter") || m.contains("certificate expired") || m.contains("NotBefore")) {
                return "the controller at " + base + " presented a certificate outside its validity dates (" + m + ")";
            }
        }
        return tls ? "TLS with the controller at " + base + " failed (" + failure.getMessage() + "; trusted: " + trusted + ")" : null;
    }
}
