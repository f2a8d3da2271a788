package io.bmcast.transport;

import io.bmcast.protocol.Nbd;

/**
 * What the handshake learned about an export: its size, transmission flags, block size constraints and
 * description, and what the transmission phase will speak (structured replies, the {@code base:allocation}
 * meta context id).
 *
 * @param baseAllocationContext the server's id for {@code base:allocation}, or -1 when not negotiated
 */
public record ExportInfo(
        String name,
        long size,
        int transmissionFlags,
        int minimumBlockSize,
        int preferredBlockSize,
        int maximumBlockSize,
        String description,
        boolean structuredReplies,
        long baseAllocationContext) {

    public boolean readOnly() {
        return has(Nbd.FLAG_READ_ONLY);
    }

    public boolean canFlush() {
        return has(Nbd.FLAG_SEND_FLUSH);
    }

    public boolean canFua() {
        return has(Nbd.FLAG_SEND_FUA);
    }

    public boolean canTrim() {
        return has(Nbd.FLAG_SEND_TRIM);
    }

    public boolean canWriteZeroes() {
        return has(Nbd.FLAG_SEND_WRITE_ZEROES);
    }

    public boolean canFastZero() {
        return has(Nbd.FLAG_SEND_FAST_ZERO);
    }

    public boolean canCache() {
        return has(Nbd.FLAG_SEND_CACHE);
    }

    public boolean canMultiConn() {
        return has(Nbd.FLAG_CAN_MULTI_CONN);
    }

    public boolean canBlockStatus() {
        return structuredReplies && baseAllocationContext >= 0;
    }

    private boolean has(int flag) {
        return (transmissionFlags & flag) != 0;
    }
}
