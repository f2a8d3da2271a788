package io.bmcast.transport;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A server's check of client certificates that keeps its CAs to itself: every check is the JDK's own (PKIX
 * against {@code ca-cert.pem}, algorithm constraints), but {@link #getAcceptedIssuers()} is empty, so the
 * server's TLS 1.3 CertificateRequest carries no {@code certificate_authorities} extension.
 *
 * <p>Why: gnutls clients (libnbd's nbdinfo and nbdcopy, QEMU) sent no certificate at all when theirs had an RSA
 * key. GnuTLS (3.7, Debian 12) picks its client certificate by two tests when the request names CAs: the
 * issuer must be one of them, and the key's algorithm must be one that the request's
 * {@code signature_algorithms} imply. It maps {@code rsa_pss_rsae_*} to an "RSA-PSS" key, not to an RSA
 * key, so an RSA key only passes when the list also has {@code rsa_pkcs1_*}. GnuTLS and OpenSSL servers
 * list those for TLS 1.2's sake; the JDK, rightly for TLS 1.3 (RFC 8446 4.4.3: PKCS#1 v1.5 never signs a
 * handshake), leaves them out and drops them even when asked to list them ({@code jdk.tls.server.SignatureSchemes}),
 * so the list cannot be changed. When the request names no CA, GnuTLS skips both tests and presents its one
 * certificate; it then signs with {@code rsa_pss_rsae_sha256}, which we offer. EC keys passed either way.
 *
 * <p>What it costs: the CA list is only a hint (RFC 8446 4.2.4), trust is decided here as before. A client
 * holding several certificates can no longer pick by issuer; libnbd and QEMU hold one, from the TLS
 * directory. A client with a certificate from another CA now presents it and is refused by name ("not signed
 * by our CA" in the server's log), where before it presented nothing.
 */
final class UnlistedCaTrustManager extends X509ExtendedTrustManager {
    private static final X509Certificate[] NONE = new X509Certificate[0];
    private final X509ExtendedTrustManager checks;

    UnlistedCaTrustManager(X509ExtendedTrustManager checks) {
        this.checks = checks;
    }

    /** Empty: see the class comment. */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return NONE;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checks.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checks.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checks.checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checks.checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checks.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checks.checkServerTrusted(chain, authType);
    }
}
