package io.bmcast.vmm;

import java.io.IOException;

/** QEMU refused a QMP command; {@link #errorClass()} is QEMU's class (e.g. {@code GenericError}). */
public final class QmpException extends IOException {
    private final String command;
    private final String errorClass;
    private final String description;

    public QmpException(String command, String errorClass, String description) {
        super("QMP " + command + " failed: " + errorClass + ": " + description);
        this.command = command;
        this.errorClass = errorClass;
        this.description = description;
    }

    public String command() { return command; }

    public String errorClass() { return errorClass; }

    public String description() { return description; }
}
