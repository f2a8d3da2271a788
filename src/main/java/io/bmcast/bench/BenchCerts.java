package io.bmcast.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Throw-away X.509 credentials for {@code bench nbd --tls}, made with openssl in QEMU's layout: a CA and a
 * server certificate for localhost (EC P-256, valid two days), read alike by bmcast, nbdkit, qemu-nbd and libnbd.
 */
final class BenchCerts {
    private BenchCerts() {}

    static Path make(Path dir) throws IOException, InterruptedException {
        if (BenchCommand.which("openssl") == null) throw new IllegalStateException("bench nbd --tls needs 'openssl' on PATH");
        Files.createDirectories(dir);
        String ca = dir.resolve("ca-cert.pem").toString(), caKey = dir.resolve("ca-key.pem").toString();
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey,
                "-out", ca, "-subj", "/CN=bmcast bench CA", "-days", "2",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        String key = dir.resolve("server-key.pem").toString();
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", key);
        openssl("req", "-x509", "-key", key, "-out", dir.resolve("server-cert.pem").toString(), "-subj", "/CN=localhost",
                "-days", "2", "-CA", ca, "-CAkey", caKey, "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                "-addext", "extendedKeyUsage=serverAuth");
        Path home = Files.createDirectories(dir.resolve("home/.pki"));
        Files.createSymbolicLink(home.resolve("libnbd"), dir);
        return dir;
    }

    /** A HOME whose {@code .pki/libnbd} is {@code dir}: where libnbd (fio's nbd engine) looks for certificates. */
    static Path libnbdHome(Path dir) {
        return dir.resolve("home");
    }

    /** Removes what {@link #make} made, and {@code dir}. */
    static void delete(Path dir) throws IOException {
        Files.deleteIfExists(dir.resolve("home/.pki/libnbd"));
        Files.deleteIfExists(dir.resolve("home/.pki"));
        Files.deleteIfExists(dir.resolve("home"));
        for (String f : List.of("ca-cert.pem", "ca-key.pem", "server-cert.pem", "server-key.pem")) Files.deleteIfExists(dir.resolve(f));
        Files.deleteIfExists(dir);
    }

    private static void openssl(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("openssl " + args[0] + " failed");
        }
    }
}
