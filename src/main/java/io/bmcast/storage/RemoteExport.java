package io.bmcast.storage;

import io.bmcast.transport.Export;
import io.bmcast.transport.ExportInfo;
import io.bmcast.transport.NbdClient;
import io.bmcast.transport.NbdUri;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * An {@link Export} served by a remote NBD server through an {@link NbdClient}: the image server seen as
 * one more export, so the mediator composes it like a local file. Capabilities follow what the server
 * advertised; every call may wait on the network (and on reconnects), so {@link #completesQuickly} is false.
 */
public final class RemoteExport implements Export {
    private final String name;
    private final NbdClient client;
    private final boolean ownsClient;

    /** Wraps a client; {@link #close()} closes it when {@code ownsClient}. */
    public RemoteExport(String name, NbdClient client, boolean ownsClient) {
        this.name = name;
        this.client = client;
        this.ownsClient = ownsClient;
    }

    /** Connects to {@code uri} with default options; the export is named after the remote export. */
    public static RemoteExport open(NbdUri uri) throws IOException {
        return open(uri, NbdClient.Options.defaults());
    }

    public static RemoteExport open(NbdUri uri, NbdClient.Options options) throws IOException {
        return new RemoteExport(uri.exportName(), NbdClient.connect(uri, options), true);
    }

    public NbdClient client() {
        return client;
    }

    private ExportInfo info() {
        return client.info();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String description() {
        return info().description();
    }

    @Override
    public long size() {
        return client.size();
    }

    @Override
    public boolean readOnly() {
        return info().readOnly();
    }

    @Override
    public boolean canTrim() {
        return !readOnly() && info().canTrim();
    }

    @Override
    public boolean canWriteZeroes() {
        return !readOnly() && info().canWriteZeroes();
    }

    @Override
    public boolean canFastZero() {
        return !readOnly() && info().canFastZero();
    }

    @Override
    public boolean canFlush() {
        return info().canFlush();
    }

    @Override
    public boolean canCache() {
        return info().canCache();
    }

    @Override
    public boolean canMultiConn() {
        return info().canMultiConn();
    }

    @Override
    public int minimumBlockSize() {
        return info().minimumBlockSize();
    }

    @Override
    public int preferredBlockSize() {
        return info().preferredBlockSize();
    }

    @Override
    public boolean completesQuickly(long offset, long length) {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        client.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        client.write(offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        client.flush();
    }

    @Override
    public void trim(long offset, long length, boolean fua) throws IOException {
        client.trim(offset, length, fua);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean noHole, boolean fast, boolean fua) throws IOException {
        client.writeZeroes(offset, length, noHole, fast, fua);
    }

    @Override
    public void cache(long offset, long length) throws IOException {
        client.cache(offset, length);
    }

    @Override
    public void blockStatus(long offset, long length, ExtentSink sink) throws IOException {
        client.blockStatus(offset, length, sink);
    }

    @Override
    public void close() {
        if (ownsClient) client.close();
    }

    @Override
    public String toString() {
        return "RemoteExport[" + name + " @ " + client.uri() + "]";
    }
}
