package io.bmcast.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * X.509 credentials for TLS tests in QEMU's directory layout: a CA, a server certificate for {@code localhost}
 * and {@code 127.0.0.1}, and a client certificate, all signed by the CA. {@link #make} uses openssl with EC
 * keys; {@link #keyTypeSet} makes RSA and EC certificates the way users do, with openssl or certtool.
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

    /** A key's algorithm. RSA is what {@code openssl req -newkey rsa:2048} and {@code certtool} make by default. */
    public enum KeyType {
        RSA,
        EC;

        /** A file of a {@link #keyTypeSet}: {@code RSA.file("client", "key")} is {@code client-rsa-key.pem}. */
        public String file(String role, String what) {
            return base(role) + "-" + what + ".pem";
        }

        /** {@code client-rsa}: the stem of the files for {@code role} with this key type. */
        String base(String role) {
            return role + "-" + name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The two tools users make certificates with: OpenSSL's, and GnuTLS's (as QEMU's and nbdkit's docs do). */
    public enum Maker {
        OPENSSL("openssl"),
        CERTTOOL("certtool");

        public final String tool;

        Maker(String tool) {
            this.tool = tool;
        }
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

    /**
     * Certificates for key-type matrices, made in {@code dir} (created) as a user would with {@code maker}, each
     * key with the tool's defaults: an RSA CA, and a server and a client certificate of each {@link KeyType}
     * ({@code server-rsa-cert.pem}, {@code server-rsa-key.pem}, {@code client-ec-cert.pem}, ...). {@link #layout}
     * puts one combination in QEMU's layout, so the keys are made once for the whole matrix.
     */
    public static Path keyTypeSet(Path dir, Maker maker) throws IOException {
        Tools.assume(maker.tool);
        Files.createDirectories(dir);
        switch (maker) {
            case OPENSSL -> {
                // openssl req -x509 -newkey rsa:2048, then a CSR per leaf signed with openssl x509 -req.
                openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir.resolve("ca-key.pem").toString(),
                        "-out", dir.resolve("ca-cert.pem").toString(), "-subj", "/CN=bmcast test CA " + dir.getFileName(), "-days", "2",
                        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
                for (KeyType t : KeyType.values()) {
                    opensslLeaf(dir, t, "server", "/CN=localhost", "serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
                    opensslLeaf(dir, t, "client", "/CN=bmcast test client", "clientAuth", "");
                }
            }
            case CERTTOOL -> {
                // QEMU's documented recipe: certtool --generate-privkey (RSA unless told), templates, no prompts.
                Path caInfo = Files.writeString(dir.resolve("ca.info"), "cn = \"bmcast test CA " + dir.getFileName() + "\"\nca\ncert_signing_key\nexpiration_days = 2\n");
                certtool("--generate-privkey", "--outfile", dir.resolve("ca-key.pem").toString());
                certtool("--generate-self-signed", "--load-privkey", dir.resolve("ca-key.pem").toString(),
                        "--template", caInfo.toString(), "--outfile", dir.resolve("ca-cert.pem").toString());
                for (KeyType t : KeyType.values()) {
                    certtoolLeaf(dir, t, "server", "cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\n");
                    certtoolLeaf(dir, t, "client", "cn = \"bmcast test client\"\ntls_www_client\n");
                }
            }
        }
        return dir;
    }

    /** A credentials directory {@code into} (created) in QEMU's layout, from a {@link #keyTypeSet}. */
    public static Path layout(Path set, KeyType server, KeyType client, Path into) throws IOException {
        Files.createDirectories(into);
        Files.copy(set.resolve("ca-cert.pem"), into.resolve("ca-cert.pem"));
        Files.copy(set.resolve(server.file("server", "cert")), into.resolve("server-cert.pem"));
        Files.copy(set.resolve(server.file("server", "key")), into.resolve("server-key.pem"));
        Files.copy(set.resolve(client.file("client", "cert")), into.resolve("client-cert.pem"));
        Files.copy(set.resolve(client.file("client", "key")), into.resolve("client-key.pem"));
        return into;
    }

    private static void opensslLeaf(Path dir, KeyType type, String role, String subject, String usage, String more) throws IOException {
        Path key = dir.resolve(type.file(role, "key"));
        Path csr = dir.resolve(type.base(role) + ".csr");
        Path ext = Files.writeString(dir.resolve(type.base(role) + ".ext"), "basicConstraints=critical,CA:FALSE\n"
                + "keyUsage=critical,digitalSignature" + (type == KeyType.RSA ? ",keyEncipherment" : "") + "\n"
                + "extendedKeyUsage=" + usage + "\n" + more);
        List<String> newKey = type == KeyType.RSA ? List.of("-newkey", "rsa:2048")
                : List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1");
        List<String> req = new ArrayList<>(List.of("req"));
        req.addAll(newKey);
        req.addAll(List.of("-nodes", "-keyout", key.toString(), "-out", csr.toString(), "-subj", subject));
        openssl(req.toArray(String[]::new));
        openssl("x509", "-req", "-in", csr.toString(), "-CA", dir.resolve("ca-cert.pem").toString(),
                "-CAkey", dir.resolve("ca-key.pem").toString(), "-CAcreateserial", "-days", "2",
                "-extfile", ext.toString(), "-out", dir.resolve(type.file(role, "cert")).toString());
    }

    private static void certtoolLeaf(Path dir, KeyType type, String role, String template) throws IOException {
        Path key = dir.resolve(type.file(role, "key"));
        // encryption_key (RSA key exchange) is meaningless for an EC key; certtool drops it there anyway.
        Path info = Files.writeString(dir.resolve(type.base(role) + ".info"), "organization = \"bmcast test\"\n" + template
                + "signing_key\n" + (type == KeyType.RSA ? "encryption_key\n" : "") + "expiration_days = 2\n");
        if (type == KeyType.RSA) {
            certtool("--generate-privkey", "--outfile", key.toString());
        } else {
            certtool("--generate-privkey", "--key-type", "ecdsa", "--outfile", key.toString());
        }
        certtool("--generate-certificate", "--load-privkey", key.toString(), "--load-ca-certificate", dir.resolve("ca-cert.pem").toString(),
                "--load-ca-privkey", dir.resolve("ca-key.pem").toString(), "--template", info.toString(),
                "--outfile", dir.resolve(type.file(role, "cert")).toString());
    }

    private static void certtool(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("certtool"));
        cmd.addAll(List.of(args));
        Tools.run(T, cmd).requireSuccess("certtool " + args[0]);
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
