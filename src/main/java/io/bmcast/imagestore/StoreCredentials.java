package io.bmcast.imagestore;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Store credentials handed to the processes bmcast starts. A process started from a shell inherits AWS_* from its
 * environment; one whose credentials were set as system properties (the demo and tests after
 * {@link LocalS3#useLocalCredentials}) passes them on as the environment variables AWS tools read.
 */
public final class StoreCredentials {
    private StoreCredentials() {}

    /** AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION from this JVM's system properties, where set. */
    public static Map<String, String> forChildren() {
        Map<String, String> env = new LinkedHashMap<>();
        put(env, "AWS_ACCESS_KEY_ID", "aws.accessKeyId");
        put(env, "AWS_SECRET_ACCESS_KEY", "aws.secretAccessKey");
        put(env, "AWS_SESSION_TOKEN", "aws.sessionToken");
        put(env, "AWS_REGION", "aws.region");
        return env;
    }

    private static void put(Map<String, String> env, String var, String property) {
        String v = System.getProperty(property);
        if (v != null && !v.isEmpty()) env.put(var, v);
    }
}
