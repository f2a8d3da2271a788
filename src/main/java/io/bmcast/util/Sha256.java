package io.bmcast.util;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 as the project names things by it: lowercase hex of the digest. */
public final class Sha256 {
    private static final HexFormat HEX = HexFormat.of();

    private Sha256() {}

    /** A fresh digest (MessageDigest is not thread-safe: one per thread or per use). */
    public static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    public static String hex(byte[] bytes) {
        return HEX.formatHex(digest().digest(bytes));
    }

    /** The hash of {@code buf} from position to limit; the buffer's position is left as it was. */
    public static String hex(ByteBuffer buf) {
        MessageDigest d = digest();
        d.update(buf.duplicate());
        return HEX.formatHex(d.digest());
    }

    public static String hex(MessageDigest finished) {
        return HEX.formatHex(finished.digest());
    }

    /** True for 64 lowercase hex digits, the only form a chunk or file is named by. */
    public static boolean isHex(String s) {
        if (s == null || s.length() != 64) return false;
        for (int i = 0; i < 64; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        }
        return true;
    }
}
