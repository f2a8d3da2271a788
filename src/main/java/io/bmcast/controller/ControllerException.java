package io.bmcast.controller;

/** A request the controller refuses, with one sentence a person understands; the HTTP layer maps the kind. */
public final class ControllerException extends RuntimeException {
    public enum Kind { INVALID, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, TOO_MANY, UNAVAILABLE, UNSUPPORTED_MEDIA_TYPE }

    private final Kind kind;

    public ControllerException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    public static ControllerException invalid(String message) {
        return new ControllerException(Kind.INVALID, message);
    }

    public static ControllerException notFound(String message) {
        return new ControllerException(Kind.NOT_FOUND, message);
    }

    public static ControllerException conflict(String message) {
        return new ControllerException(Kind.CONFLICT, message);
    }

    public static ControllerException forbidden(String message) {
        return new ControllerException(Kind.FORBIDDEN, message);
    }

    public static ControllerException unprocessable(String message) {
        return new ControllerException(Kind.UNPROCESSABLE, message);
    }
}
