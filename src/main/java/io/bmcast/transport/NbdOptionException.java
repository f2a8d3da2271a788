package io.bmcast.transport;

import io.bmcast.protocol.Nbd;
import java.io.IOException;

/** The server refused a handshake option (an {@code NBD_REP_ERR_*} reply), for example an unknown export name. */
public class NbdOptionException extends IOException {
    private final int option;
    private final int replyType;

    public NbdOptionException(int option, int replyType, String message) {
        super(message);
        this.option = option;
        this.replyType = replyType;
    }

    public int option() {
        return option;
    }

    /** The {@code Nbd.REP_ERR_*} value. */
    public int replyType() {
        return replyType;
    }

    static String replyName(int type) {
        return switch (type) {
            case Nbd.REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
            case Nbd.REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
            case Nbd.REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
            case Nbd.REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
            case Nbd.REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
            case Nbd.REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
            case Nbd.REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
            case Nbd.REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case Nbd.REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
            default -> String.format("reply 0x%08x", type);
        };
    }
}
