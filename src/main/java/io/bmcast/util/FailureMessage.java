package io.bmcast.util;

import java.nio.channels.UnresolvedAddressException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.regex.Pattern;

/**
 * A failure as one line a person reads: the JDK's file exceptions carry only a path ({@code /proc/nope.tmp}),
 * some carry no message at all, and wrapped ones start with a class name; none of that is shown as is.
 */
public final class FailureMessage {
    private static final Pattern CLASS_PREFIX = Pattern.compile("(?:[a-z][\\w$]*\\.)+[A-Z][\\w$]*(?:Exception|Error): ");

    private FailureMessage() {}

    public static String of(Throwable e) {
        return oneLine(describe(e));
    }

    private static String describe(Throwable e) {
        if (e instanceof FileSystemException f) return fileSystem(f);
        if (e instanceof UnresolvedAddressException) return "cannot resolve a host name";
        if (e instanceof OutOfMemoryError) return "out of memory (raise the JVM's -Xmx through BMCAST_JAVA_OPTS)";
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            if (e.getCause() != null && e.getCause() != e) return describe(e.getCause());
            return "internal error (" + e.getClass().getSimpleName() + "); run with BMCAST_DEBUG=1 to see where";
        }
        return CLASS_PREFIX.matcher(m).replaceAll("");
    }

    private static String fileSystem(FileSystemException f) {
        String file = f.getFile();
        String other = f.getOtherFile() != null ? " (" + f.getOtherFile() + ")" : "";
        String reason = f.getReason();
        if (f instanceof NoSuchFileException) return "no such file or directory: " + file + other;
        if (f instanceof AccessDeniedException) return "permission denied: " + file + other;
        if (f instanceof FileAlreadyExistsException) return "already exists: " + file + other;
        if (f instanceof NotDirectoryException) return "not a directory: " + file + other;
        if (f instanceof DirectoryNotEmptyException) return "directory not empty: " + file + other;
        if (file == null) return reason != null ? reason : "file system error";
        return file + other + ": " + (reason != null ? reason.substring(0, 1).toLowerCase(java.util.Locale.ROOT) + reason.substring(1)
                : "cannot be used");
    }

    /** Several lines (an error and a log's tail) joined into one. */
    public static String oneLine(String message) {
        return message == null ? "" : message.strip().replaceAll("\\s*\\R+\\s*", " | ");
    }
}
