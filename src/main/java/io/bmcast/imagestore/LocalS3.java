package io.bmcast.imagestore;

import java.io.IOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * A real S3 server on this machine: S3Proxy (Maven Central) with its filesystem backend, run as a process of its
 * own from the jar the build copies to {@code target/s3proxy}. The demo, the benches and the tests start one;
 * nobody has to install or start a store by hand. Listens on 127.0.0.1 only, with fixed local credentials
 * ({@link #ACCESS_KEY}, {@link #SECRET_KEY}) that bmcast's processes take from their environment ({@link #env}).
 */
public final class LocalS3 implements AutoCloseable {
    public static final String ACCESS_KEY = "bmcast-local";
    public static final String SECRET_KEY = "bmcast-local-secret";
    private static final long START_TIMEOUT_MS = 90_000;

    private final Process process;
    private final URI endpoint;
    private final Path dir;

    private LocalS3(Process process, URI endpoint, Path dir) {
        this.process = process;
        this.endpoint = endpoint;
        this.dir = dir;
    }

    /** The S3Proxy jar: {@code BMCAST_S3PROXY_JAR}, else {@code target/s3proxy/s3proxy.jar} beside bmcast's classes. */
    public static Path jar() {
        String env = System.getenv("BMCAST_S3PROXY_JAR");
        if (env != null && !env.isBlank()) return Path.of(env);
        try {
            Path code = Path.of(LocalS3.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.getParent().resolve("s3proxy").resolve("s3proxy.jar"); // target/classes or target/bmcast.jar
        } catch (Exception e) {
            return Path.of("target", "s3proxy", "s3proxy.jar");
        }
    }

    /**
     * Starts a store keeping its objects under {@code dir/data} (created; kept after {@link #close}), with its log
     * in {@code dir/s3proxy.log}, and waits until it answers. The same dir started again serves the same objects.
     */
    public static LocalS3 start(Path dir) throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            port = s.getLocalPort();
        }
        return start(dir, port);
    }

    /**
     * Starts a store on {@code dir} listening on {@code port}: the same dir and port again after {@link #close} is
     * the same store back after an outage (what a mediator's retries must ride out).
     */
    public static LocalS3 start(Path dir, int port) throws IOException {
        Path jar = jar();
        if (!Files.isRegularFile(jar)) {
            throw new IOException("S3Proxy is not built at " + jar + ": run `mvn -o generate-resources` (the build copies it from Maven Central)");
        }
        Path data = Files.createDirectories(dir.resolve("data"));
        URI endpoint = URI.create("http://127.0.0.1:" + port);
        Properties p = new Properties();
        p.setProperty("s3proxy.endpoint", endpoint.toString());
        p.setProperty("s3proxy.authorization", "aws-v2-or-v4");
        p.setProperty("s3proxy.identity", ACCESS_KEY);
        p.setProperty("s3proxy.credential", SECRET_KEY);
        p.setProperty("jclouds.provider", "filesystem");
        p.setProperty("jclouds.filesystem.basedir", data.toAbsolutePath().toString());
        Path conf = dir.resolve("s3proxy.conf");
        try (Writer w = Files.newBufferedWriter(conf, StandardCharsets.UTF_8)) {
            p.store(w, "bmcast: a local S3 server (S3Proxy, filesystem backend)");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-jar", jar.toAbsolutePath().toString(), "--properties", conf.toAbsolutePath().toString()));
        Path log = dir.resolve("s3proxy.log");
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
        while (true) {
            if (!proc.isAlive()) {
                throw new IOException("S3Proxy exited with code " + proc.exitValue() + " at start; see " + log);
            }
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 500);
                break;
            } catch (IOException notYet) {
                // starting
            }
            if (System.currentTimeMillis() > deadline) {
                proc.destroyForcibly();
                throw new IOException("S3Proxy did not answer on " + endpoint + " within " + START_TIMEOUT_MS / 1000 + " s; see " + log);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                proc.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while S3Proxy started", e);
            }
        }
        return new LocalS3(proc, endpoint, dir);
    }

    public URI endpoint() {
        return endpoint;
    }

    public Path dir() {
        return dir;
    }

    public int port() {
        return endpoint.getPort();
    }

    /** {@code s3://BUCKET/PREFIX/NAME?endpoint=...} on this server. */
    public StoreLocation location(String bucket, String prefixAndName) {
        return StoreLocation.parse("s3://" + bucket + "/" + prefixAndName).with(endpoint, "us-east-1");
    }

    /** The environment a bmcast process needs to use this store (credentials, region). */
    public static Map<String, String> env() {
        return Map.of("AWS_ACCESS_KEY_ID", ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", SECRET_KEY, "AWS_REGION", "us-east-1");
    }

    /**
     * Makes this JVM's own store clients use the local credentials (the SDK's default chain reads these system
     * properties before the environment): for tests and the in-process parts of the demo.
     */
    public static void useLocalCredentials() {
        System.setProperty("aws.accessKeyId", ACCESS_KEY);
        System.setProperty("aws.secretAccessKey", SECRET_KEY);
        System.setProperty("aws.region", "us-east-1");
    }

    /** True while the server process runs. */
    public boolean alive() {
        return process.isAlive();
    }

    /** Stops the server (the objects stay in {@code dir/data}). */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
