package io.bmcast.util;

/** java.util.logging's records as one line each, {@code 12:00:01 INFO conn#1 open: ...}, for every bmcast JVM. */
public final class LogFormat {
    private LogFormat() {}

    /** Before the first logger is made; a format the user set ({@code -Djava.util.logging.SimpleFormatter.format}) wins. */
    public static void oneLinePerRecord() {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT %4$s %5$s%6$s%n");
        }
    }
}
