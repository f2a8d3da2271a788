package io.bmcast.imagestore;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.time.Duration;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * One S3 bucket as bmcast uses it: whole-object GET, HEAD, PUT, with errors turned into {@link StoreException}
 * sentences. Built on the AWS SDK for Java v2 with the settings S3-compatible servers need: path-style addressing
 * whenever an endpoint is given (MinIO, Ceph RGW, Garage, S3Proxy have no virtual-host DNS), and checksums only
 * where the API requires them (the SDK's default trailing CRC is refused by several of them). Credentials come
 * the way AWS tools take them: environment, system properties, ~/.aws profile files, then the instance's role.
 * Thread-safe; one per process and bucket is plenty (it pools its connections).
 */
public final class StoreClient implements AutoCloseable {
    static {
        // The SDK's URLConnection client rides on the JDK's keep-alive cache, which keeps 5 idle connections per
        // server by default: fewer than the fetches a mediator keeps in flight. Only if nobody chose already.
        if (System.getProperty("http.maxConnections") == null) System.setProperty("http.maxConnections", "64");
    }

    private final S3Client s3;
    private final String bucket;
    private final String where;

    private StoreClient(S3Client s3, String bucket, String where) {
        this.s3 = s3;
        this.bucket = bucket;
        this.where = where;
    }

    /** A client for the bucket (and server, region) {@code location} names. */
    public static StoreClient open(StoreLocation location) throws StoreException {
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(5)).socketTimeout(Duration.ofSeconds(30)))
                .credentialsProvider(DefaultCredentialsProvider.builder().build())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .region(region(location));
        URI endpoint = location.endpoint();
        if (endpoint != null) b.endpointOverride(endpoint).forcePathStyle(true);
        // Without one, the SDK itself reads AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL (and a profile's endpoint_url):
        // a server named that way is S3-compatible too, so it gets path-style addressing as well.
        String configured = endpoint == null ? configuredEndpoint() : null;
        if (configured != null) b.forcePathStyle(true);
        String where = "bucket " + location.bucket() + (endpoint != null ? " at " + endpoint : configured != null ? " at " + configured : "");
        try {
            return new StoreClient(b.build(), location.bucket(), where);
        } catch (SdkException e) {
            throw new StoreException("cannot set up a client for " + where + ": " + firstLine(e.getMessage()), true, e);
        }
    }

    /** The endpoint the SDK takes from the environment when none is given ({@code AWS_ENDPOINT_URL_S3}, {@code AWS_ENDPOINT_URL}), or null. */
    static String configuredEndpoint() {
        if ("true".equalsIgnoreCase(System.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))) return null;
        for (String v : new String[] {System.getProperty("aws.endpointUrl"), System.getenv("AWS_ENDPOINT_URL_S3"), System.getenv("AWS_ENDPOINT_URL")}) {
            if (v != null && !v.isBlank()) return v;
        }
        return null;
    }

    /** The URI's region, else the default chain's (AWS_REGION, profile), else us-east-1 (S3-compatible servers ignore it). */
    private static Region region(StoreLocation location) {
        if (location.region() != null) return Region.of(location.region());
        try {
            return new DefaultAwsRegionProviderChain().getRegion();
        } catch (SdkClientException none) {
            return Region.US_EAST_1;
        }
    }

    /** "bucket B at http://..." for messages. */
    public String where() {
        return where;
    }

    /** The object's bytes, or null when there is no such key. */
    public ByteBuffer get(String key) throws StoreException {
        try {
            ResponseBytes<GetObjectResponse> r = s3.getObjectAsBytes(req -> req.bucket(bucket).key(key));
            return ByteBuffer.wrap(r.asByteArrayUnsafe());
        } catch (NoSuchKeyException e) {
            return null;
        } catch (SdkException e) {
            throw translate("GET " + key, e);
        }
    }

    /** The object's length, or -1 when there is no such key. */
    public long head(String key) throws StoreException {
        try {
            return s3.headObject(HeadObjectRequest.builder().bucket(bucket).key(key).build()).contentLength();
        } catch (NoSuchKeyException e) {
            return -1;
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && !(e instanceof NoSuchBucketException) && !"NoSuchBucket".equals(code(e))) return -1;
            throw translate("HEAD " + key, e);
        } catch (SdkException e) {
            throw translate("HEAD " + key, e);
        }
    }

    /** Stores {@code bytes} (position to limit) under {@code key}. */
    public void put(String key, ByteBuffer bytes, String contentType) throws StoreException {
        try {
            s3.putObject(req -> req.bucket(bucket).key(key).contentType(contentType).contentLength((long) bytes.remaining()),
                    RequestBody.fromByteBuffer(bytes.duplicate()));
        } catch (SdkException e) {
            throw translate("PUT " + key, e);
        }
    }

    /** True when the bucket exists (and these credentials may see it); false when the server has no such bucket. */
    public boolean bucketExists() throws StoreException {
        try {
            s3.headBucket(req -> req.bucket(bucket));
            return true;
        } catch (NoSuchBucketException e) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) return false;
            throw translate("HEAD bucket", e);
        } catch (SdkException e) {
            throw translate("HEAD bucket", e);
        }
    }

    /** Creates the bucket unless it exists (the demo's and the tests' fresh store; an operator's bucket exists). */
    public void ensureBucket() throws StoreException {
        try {
            s3.headBucket(req -> req.bucket(bucket));
        } catch (S3Exception e) {
            if (e.statusCode() != 404) throw translate("HEAD bucket", e);
            try {
                s3.createBucket(req -> req.bucket(bucket));
            } catch (SdkException c) {
                throw translate("create bucket", c);
            }
        } catch (SdkException e) {
            throw translate("HEAD bucket", e);
        }
    }

    private static String code(S3Exception e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    }

    /** One sentence for what went wrong, and whether asking again could help. */
    StoreException translate(String what, SdkException e) {
        if (e instanceof S3Exception s) {
            String code = code(s);
            int status = s.statusCode();
            if ("InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code) || status == 403) {
                return new StoreException(where + " refused the credentials (" + (code != null ? code : "HTTP " + status)
                        + "): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile in use", true, e);
            }
            if ("NoSuchBucket".equals(code)) return new StoreException("there is no " + where, true, e);
            boolean retry = status >= 500 || status == 429 || "SlowDown".equals(code);
            return new StoreException(where + " failed " + what + ": HTTP " + status + (code != null ? " " + code : ""), !retry, e);
        }
        String msg = e.getMessage() == null ? "" : e.getMessage();
        if (msg.contains("Unable to load credentials")) {
            return new StoreException("no credentials for " + where + ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials", true, e);
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            // Said in words: an exception's class name is no sentence (and a CLI test rejects it).
            if (c instanceof ConnectException) {
                return new StoreException("cannot reach " + where + ": " + firstLine(c.getMessage()).toLowerCase(java.util.Locale.ROOT), false, e);
            }
            if (c instanceof UnknownHostException) {
                return new StoreException("cannot reach " + where + ": unknown host " + firstLine(c.getMessage()), false, e);
            }
        }
        return new StoreException(where + " failed " + what + ": " + firstLine(msg), false, e);
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }

    /** The manifest of {@code image}, checked; a clear error when there is none. */
    public Manifest manifest(StoreLocation image) throws IOException {
        return readManifest(image, null).manifest();
    }

    /**
     * The manifest of {@code image} and the SHA-256 of the exact bytes this one GET returned; refused (permanently)
     * when {@code pin} is not null and differs from it, before the manifest is parsed or used.
     */
    public ManifestDigest.Read readManifest(StoreLocation image, String pin) throws IOException {
        byte[] bytes = manifestBytes(image);
        if (bytes == null) throw new StoreException("there is no image " + image.display() + " in " + where + " (no " + image.manifestKey() + ")", true, null);
        String sha = ManifestDigest.of(bytes);
        ManifestDigest.check(image, sha, pin);
        return new ManifestDigest.Read(Manifest.parse(bytes, image.display()), sha);
    }

    /** The manifest object's bytes as stored, or null when there is none. */
    public byte[] manifestBytes(StoreLocation image) throws StoreException {
        ByteBuffer b = get(image.manifestKey());
        if (b == null) return null;
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    @Override
    public void close() {
        s3.close();
    }
}
