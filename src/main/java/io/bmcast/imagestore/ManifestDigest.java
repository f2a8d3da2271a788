package io.bmcast.imagestore;

import io.bmcast.util.Sha256;
import java.util.Locale;

/**
 * The SHA-256 of a manifest object's exact bytes: what {@code image push} prints, what {@code controller image add}
 * records, and what a deployment checks before it serves a byte. Every chunk is verified against its name, but only
 * this pins the list of names: without it, whoever can write the bucket can swap two entries of the same stored size
 * (or point one at another image's chunk) after the image was added, and every chunk still verifies while the guest
 * gets another disk. Computed over the bytes as read, never a re-serialization (a parse then write could normalize
 * an edit away).
 */
public final class ManifestDigest {
    private ManifestDigest() {}

    /** A manifest as read from the store: parsed, and the digest of the bytes it was parsed from. */
    public record Read(Manifest manifest, String sha256) {}

    /** The digest of {@code json}, the manifest object's bytes. */
    public static String of(byte[] json) {
        return Sha256.hex(json);
    }

    /**
     * Reads a digest as a person gives it ({@code --manifest-sha256}, the API): 64 hex digits, either case; null
     * and blank mean no pin.
     *
     * @throws IllegalArgumentException one sentence on what is wrong
     */
    public static String parse(String text) {
        if (text == null || text.isBlank()) return null;
        String hex = text.strip().toLowerCase(Locale.ROOT);
        if (!Sha256.isHex(hex)) throw new IllegalArgumentException("'" + text + "' is not a manifest's SHA-256 (64 hex digits)");
        return hex;
    }

    /**
     * Refuses a manifest whose digest is not the pinned one ({@code expected}; null pins nothing). Permanent: asking
     * the store again returns the same changed object.
     */
    public static void check(StoreLocation image, String actual, String expected) throws StoreException {
        if (expected == null || expected.equals(actual)) return;
        throw new StoreException(changed(image, actual, expected), true, null);
    }

    /** The sentence for a manifest that is not the one pinned. */
    public static String changed(StoreLocation image, String actual, String expected) {
        return "the manifest of " + image.display() + " changed since it was added (sha256 " + actual + ", expected " + expected
                + "): push it again and add it again";
    }
}
