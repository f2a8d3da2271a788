package io.bmcast.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The part of a serial console log the controller does not hold yet: the bytes after its offset, at most
 * {@link #MAX_CHUNK} per heartbeat so a chatty guest cannot make one heartbeat huge (the rest follows in the
 * next ones). The controller refuses a heartbeat body over its limit (256 KiB by default): 32 KiB of console, even
 * all control characters that JSON escapes to six bytes each, stays well inside it.
 *
 * <p>The controller counts the console in bytes and the wire carries text, so every byte must stay one byte:
 * the chunk never ends inside a UTF-8 sequence, and a byte that is not valid UTF-8 (a guest may print
 * anything) is sent as {@code '?'}, one byte for one byte.
 */
public final class ConsoleTail {
    public static final int MAX_CHUNK = 32 << 10;

    private ConsoleTail() {}

    /** @return the text from {@code offset}, possibly empty; empty also when there is no log yet */
    public static String read(Path log, long offset) throws IOException {
        if (log == null) return "";
        byte[] b;
        try (FileChannel ch = FileChannel.open(log, StandardOpenOption.READ)) {
            long size = ch.size();
            if (offset >= size) return "";
            int n = (int) Math.min(MAX_CHUNK, size - Math.max(offset, 0));
            ByteBuffer buf = ByteBuffer.allocate(n);
            while (buf.hasRemaining() && ch.read(buf, offset + buf.position()) > 0) {
                // keep reading: a short read is not the end
            }
            b = java.util.Arrays.copyOf(buf.array(), buf.position());
        } catch (NoSuchFileException e) {
            return "";
        }
        return text(b, b.length == MAX_CHUNK);
    }

    /** Decodes {@code b} keeping one character per byte for anything but well-formed UTF-8. */
    static String text(byte[] b, boolean more) {
        StringBuilder out = new StringBuilder(b.length);
        int i = 0;
        while (i < b.length) {
            int c = b[i] & 0xff;
            int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
            if (len == 1) {
                out.append((char) c);
                i++;
                continue;
            }
            if (len > 0 && i + len > b.length && more) break; // cut inside a sequence: the next chunk has it whole
            if (len > 0 && i + len <= b.length && continuation(b, i + 1, len - 1)) {
                String ch = new String(b, i, len, StandardCharsets.UTF_8);
                // Overlong forms and surrogates decode to replacement characters of another length: not kept.
                if (ch.getBytes(StandardCharsets.UTF_8).length == len && ch.indexOf('\uFFFD') < 0) {
                    out.append(ch);
                    i += len;
                    continue;
                }
            }
            out.append('?');
            i++;
        }
        return out.toString();
    }

    private static boolean continuation(byte[] b, int from, int n) {
        for (int k = from; k < from + n; k++) if ((b[k] & 0xc0) != 0x80) return false;
        return true;
    }
}
