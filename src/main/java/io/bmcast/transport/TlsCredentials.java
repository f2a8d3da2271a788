package io.bmcast.transport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * X.509 credentials for NBD over TLS, read from a directory in QEMU's layout (the one {@code qemu-nbd
 * --object tls-creds-x509,dir=DIR} and {@code nbdkit --tls-certificates=DIR} read):
 *
 * <pre>
 *   ca-cert.pem                        the CA that signs the peer's certificate
 *   server-cert.pem, server-key.pem    a server's own certificate (the chain, leaf first) and key
 *   client-cert.pem, client-key.pem    a client's, presented when the server verifies peers
 * </pre>
 * TLS 1.3 only. A client checks the server's certificate against the CA and, over TCP, the host name in
 * the URI against the certificate's names (as libnbd and QEMU do); over a Unix socket there is no host
 * name to check, so the CA alone vouches for the server. A server that verifies peers names no CA in its
 * certificate request ({@link UnlistedCaTrustManager}: gnutls clients would keep an RSA certificate back).
 */
public final class TlsCredentials {
    static final String PROTOCOL = "TLSv1.3";

    private final Path dir;
    private final boolean server;
    private final boolean verifyPeer;
    private final SSLContext context;

    private TlsCredentials(Path dir, boolean server, boolean verifyPeer, SSLContext context) {
        this.dir = dir;
        this.server = server;
        this.verifyPeer = verifyPeer;
        this.context = context;
    }

    /**
     * A server's credentials: {@code server-cert.pem} and {@code server-key.pem}; with {@code verifyPeer},
     * also {@code ca-cert.pem}, and a client must present a certificate it signed.
     */
    public static TlsCredentials server(Path dir, boolean verifyPeer) throws IOException {
        checkDir(dir);
        KeyManagerFactory keys = keys(dir, "server-cert.pem", "server-key.pem");
        // The CAs are not named in the certificate request: gnutls clients would keep an RSA certificate back.
        TrustManager[] trust = verifyPeer ? new TrustManager[] {new UnlistedCaTrustManager(pkix(trust(dir)))} : null;
        return new TlsCredentials(dir, true, verifyPeer, context(keys, trust, dir));
    }

    /** A client's credentials: {@code ca-cert.pem}, and {@code client-cert.pem}/{@code client-key.pem} when present. */
    public static TlsCredentials client(Path dir) throws IOException {
        checkDir(dir);
        TrustManagerFactory trust = trust(dir);
        boolean hasCert = Files.exists(dir.resolve("client-cert.pem"));
        if (hasCert != Files.exists(dir.resolve("client-key.pem"))) {
            throw new IOException("TLS directory " + dir + " has one of client-cert.pem and client-key.pem but not the other");
        }
        KeyManagerFactory keys = hasCert ? keys(dir, "client-cert.pem", "client-key.pem") : null;
        return new TlsCredentials(dir, false, false, context(keys, trust.getTrustManagers(), dir));
    }

    /**
     * For HTTPS (the fleet controller): the server's certificate chain and key from {@code dir}'s
     * {@code server-cert.pem} and {@code server-key.pem}, the same files and key formats as the NBD side.
     * The context allows TLS 1.2 too: browsers and HTTP clients still meet it; the caller picks the versions.
     */
    public static SSLContext httpsServer(Path dir) throws IOException {
        checkDir(dir);
        return context("TLS", keys(dir, "server-cert.pem", "server-key.pem"), null, dir);
    }

    /** Whether {@code dir} holds a server's certificate (and so can serve HTTPS as well as read nbds:// images). */
    public static boolean hasServerCertificate(Path dir) {
        return dir != null && Files.exists(dir.resolve("server-cert.pem"));
    }

    /**
     * For an HTTPS client that trusts only the CA certificates in {@code caFile} (PEM, one or more): the
     * chain, dates and (the HTTP client's part) the host name are checked as with any public CA.
     */
    public static SSLContext httpsClient(Path caFile) throws IOException {
        if (!Files.isReadable(caFile)) throw new IOException("cannot read the CA certificate file " + caFile);
        return context("TLS", null, trustFile(caFile).getTrustManagers(), caFile);
    }

    public Path dir() {
        return dir;
    }

    public boolean verifiesPeer() {
        return verifyPeer;
    }

    /** A server-side engine for one accepted connection. */
    SSLEngine serverEngine() {
        if (!server) throw new IllegalStateException("client credentials cannot serve");
        SSLEngine e = context.createSSLEngine();
        e.setUseClientMode(false);
        e.setEnabledProtocols(new String[] {PROTOCOL});
        if (verifyPeer) e.setNeedClientAuth(true);
        return e;
    }

    /** A client-side engine for a connection to {@code endpoint}. */
    SSLEngine clientEngine(Endpoint endpoint) {
        if (server) throw new IllegalStateException("server credentials cannot connect");
        SSLEngine e;
        if (endpoint instanceof Endpoint.Tcp t) {
            e = context.createSSLEngine(t.host(), t.port());
            SSLParameters p = e.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS"); // RFC 2818 name checks: DNS and IP subject alt names
            e.setSSLParameters(p);
        } else {
            e = context.createSSLEngine();
        }
        e.setUseClientMode(true);
        e.setEnabledProtocols(new String[] {PROTOCOL});
        return e;
    }

    private static void checkDir(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new IOException("TLS directory " + dir + " does not exist");
    }

    private static Path required(Path dir, String name) throws IOException {
        Path p = dir.resolve(name);
        if (!Files.isReadable(p)) {
            throw new IOException("TLS directory " + dir + " has no readable " + name
                    + " (expected QEMU's layout: ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem, client-key.pem)");
        }
        return p;
    }

    private static KeyManagerFactory keys(Path dir, String certName, String keyName) throws IOException {
        List<X509Certificate> chain = Pem.certificates(required(dir, certName));
        PrivateKey key = Pem.privateKey(required(dir, keyName));
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] none = new char[0];
            ks.setKeyEntry("key", key, none, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            f.init(ks, none);
            return f;
        } catch (GeneralSecurityException e) {
            throw new IOException(dir.resolve(keyName) + " does not go with " + dir.resolve(certName) + ": " + e.getMessage(), e);
        }
    }

    private static TrustManagerFactory trust(Path dir) throws IOException {
        return trustFile(required(dir, "ca-cert.pem"));
    }

    private static TrustManagerFactory trustFile(Path caFile) throws IOException {
        List<X509Certificate> cas = Pem.certificates(caFile);
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            for (int i = 0; i < cas.size(); i++) ks.setCertificateEntry("ca" + i, cas.get(i));
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init(ks);
            return f;
        } catch (GeneralSecurityException e) {
            throw new IOException(caFile + ": " + e.getMessage(), e);
        }
    }

    /** The JDK's PKIX trust manager out of {@code trust} (it checks chains, names and algorithm constraints). */
    private static X509ExtendedTrustManager pkix(TrustManagerFactory trust) {
        for (TrustManager t : trust.getTrustManagers()) {
            if (t instanceof X509ExtendedTrustManager x) return x;
        }
        throw new IllegalStateException("the JDK's default TrustManagerFactory gave no X509ExtendedTrustManager");
    }

    private static SSLContext context(KeyManagerFactory keys, TrustManager[] trust, Path dir) throws IOException {
        return context(PROTOCOL, keys, trust, dir);
    }

    private static SSLContext context(String protocol, KeyManagerFactory keys, TrustManager[] trust, Path dir) throws IOException {
        try {
            SSLContext c = SSLContext.getInstance(protocol);
            c.init(keys == null ? null : keys.getKeyManagers(), trust, null);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS from " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "TLS " + dir + (verifyPeer ? " (peers verified)" : "");
    }
}
