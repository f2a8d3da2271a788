package io.bmcast.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * X.509 credentials for TLS tests, made with openssl in QEMU's directory layout: a CA, a server certificate
 * for {@code localhost} and {@code 127.0.0.1}, and a client certificate, all signed by the CA.
 */
public final class TestCerts {
    private static final Duration T = Duration.ofSeconds(30);

    /** How the server's private key is written. */
    public enum KeyFormat {
        /** {@code BEGIN PRIVATE KEY}, EC P-256 (openssl genpkey, openssl req -newkey). */
        PKCS8_EC,
        /** {@code BEGIN PRIVATE KEY}, RSA 2048. */
        PKCS8_RSA,
        /** {@code BEGIN RSA PRIVATE KEY} (certtool --generate-privkey, openssl genrsa -traditional). */
        PKCS1_RSA,
        /** {@code BEGIN EC PRIVATE KEY} (openssl ecparam -genkey, certtool --generate-privkey --key-type ecdsa). */
        SEC1_EC
    }

    private TestCerts() {}

    /** Makes a CA and its server and client certificates in {@code dir} (created); returns {@code dir}. */
    public static Path make(Path dir) throws IOException {
        return make(dir, KeyFormat.PKCS8_EC);
    }

    public static Path make(Path dir, KeyFormat serverKeyFormat) throws IOException {
        return make(dir, serverKeyFormat, "DNS:localhost,IP:127.0.0.1");
    }

    /** With the server certificate for {@code names} instead (openssl's subjectAltName syntax, e.g. {@code DNS:elsewhere.test}). */
    public static Path make(Path dir, KeyFormat serverKeyFormat, String names) throws IOException {
        Tools.assume("openssl");
        Files.createDirectories(dir);
        Path caKey = dir.resolve("ca-key.pem");
        Path caCert = dir.resolve("ca-cert.pem");
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", caKey.toString(), "-out", caCert.toString(), "-subj", "/CN=bmcast test CA " + dir.getFileName(),
                "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");

        Path serverKey = dir.resolve("server-key.pem");
        switch (serverKeyFormat) {
            case PKCS8_EC -> openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", serverKey.toString());
            case PKCS8_RSA -> openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", serverKey.toString());
            case PKCS1_RSA -> openssl("genrsa", "-traditional", "-out", serverKey.toString(), "2048");
            case SEC1_EC -> openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", serverKey.toString());
        }
        sign(dir, serverKey, dir.resolve("server-cert.pem"), "/CN=localhost", "serverAuth",
                "subjectAltName=" + names);

        Path clientKey = dir.resolve("client-key.pem");
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", clientKey.toString());
        sign(dir, clientKey, dir.resolve("client-cert.pem"), "/CN=bmcast test client", "clientAuth", null);
        return dir;
    }

    /** A copy of {@code dir} with the client's certificate and key removed (a client that has none). */
    public static Path withoutClientCert(Path dir, Path into) throws IOException {
        Files.createDirectories(into);
        Files.copy(dir.resolve("ca-cert.pem"), into.resolve("ca-cert.pem"));
        return into;
    }

    private static void sign(Path dir, Path key, Path cert, String subject, String usage, String san) throws IOException {
        List<String> args = new ArrayList<>(List.of("req", "-x509", "-key", key.toString(), "-out", cert.toString(),
                "-subj", subject, "-days", "2", "-CA", dir.resolve("ca-cert.pem").toString(),
                "-CAkey", dir.resolve("ca-key.pem").toString(),
                "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                "-addext", "extendedKeyUsage=" + usage));
        if (san != null) args.addAll(List.of("-addext", san));
        openssl(args.toArray(String[]::new));
    }

    private static void openssl(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Tools.run(T, cmd).requireSuccess("openssl " + args[0]);
    }
}
