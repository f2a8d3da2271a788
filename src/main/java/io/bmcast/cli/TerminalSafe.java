package io.bmcast.cli;

/**
 * Guest output made safe for the operator's terminal. A guest writes whatever bytes it likes to its serial
 * console: an escape sequence (ESC, CSI, OSC...) printed raw could retitle the window, move the cursor over
 * earlier lines, or, on some terminals, answer back into the shell. Every control character except newline
 * and tab (and the CR of a serial console's CRLF, dropped) is shown as a visible {@code \xNN} (C1 controls as {@code \u0080}..{@code \u009f}, since an 8-bit
 * CSI is one code point).
 */
final class TerminalSafe {
    private TerminalSafe() {}

    static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n' || c == '\t') out.append(c);
            else if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') continue; // CRLF: one line end
            else if (c < 0x20 || c == 0x7f) out.append(String.format("\\x%02x", (int) c));
            else if (c >= 0x80 && c <= 0x9f) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.toString();
    }
}
