package io.bmcast.controller;

import io.bmcast.storage.Extents;
import io.bmcast.storage.RemoteExport;
import io.bmcast.transport.NbdClient;
import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;

/** Reads an image's metadata from its image server: size, allocated bytes and the extent map. */
public final class ImageProbe {
    private ImageProbe() {}

    /** @param extents the data ranges as (offset, length) pairs, ascending */
    public record Metadata(long sizeBytes, long allocatedBytes, long[] extents) {
        public int extentCount() {
            return extents.length / 2;
        }
    }

    /**
     * Connects to {@code uri} and scans its allocation map. An unreachable or silent server fails within
     * {@code timeout} (connect plus handshake), not after the client's minute of reconnecting.
     */
    public static Metadata probe(String uri, Duration timeout) {
        return probe(uri, timeout, null);
    }

    /** {@code tlsDir}: the client credentials an {@code nbds://} image is read with (null: none). */
    public static Metadata probe(String uri, Duration timeout, java.nio.file.Path tlsDir) {
        NbdUri parsed;
        try {
            parsed = NbdUri.parse(uri);
        } catch (IllegalArgumentException e) {
            throw ControllerException.invalid(e.getMessage());
        }
        NbdClient.Options options = NbdClient.Options.defaults().connectTimeout(timeout).giveUpAfter(timeout).stallTimeout(timeout);
        if (parsed.tls()) {
            if (tlsDir == null) throw ControllerException.unprocessable("cannot read image " + uri + ": it is served over TLS and the controller has no --tls-dir");
            try {
                options = options.tls(io.bmcast.transport.TlsCredentials.client(tlsDir));
            } catch (IOException e) {
                throw ControllerException.unprocessable("cannot read image " + uri + ": " + e.getMessage());
            }
        }
        try (RemoteExport export = RemoteExport.open(parsed, options)) {
            long[][] pairs = {new long[64]};
            int[] n = {0};
            long[] allocated = {0};
            Extents.forEachData(export, (offset, length) -> {
                if (n[0] + 2 > pairs[0].length) pairs[0] = Arrays.copyOf(pairs[0], pairs[0].length * 2);
                pairs[0][n[0]++] = offset;
                pairs[0][n[0]++] = length;
                allocated[0] += length;
            });
            return new Metadata(export.size(), allocated[0], Arrays.copyOf(pairs[0], n[0]));
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw ControllerException.unprocessable("cannot read image " + uri + ": " + why);
        }
    }
}
