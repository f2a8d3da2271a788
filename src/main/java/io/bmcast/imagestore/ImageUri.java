package io.bmcast.imagestore;

import io.bmcast.transport.NbdUri;
import java.net.URI;

/**
 * Where a mediator streams an image from, read once from {@code --image}: an NBD export ({@code nbd://},
 * {@code nbds://}, {@code nbd+unix://}) or an image in an object store ({@code s3://BUCKET/PREFIX/NAME}). Exactly
 * one of the two is set. {@link #toString} reads back through {@link #parse}, so it travels in config files and
 * command lines unchanged.
 */
public record ImageUri(NbdUri nbd, StoreLocation store) {
    public ImageUri {
        if ((nbd == null) == (store == null)) throw new IllegalArgumentException("an image is either an NBD export or a store image");
    }

    public static ImageUri of(NbdUri nbd) {
        return new ImageUri(nbd, null);
    }

    public static ImageUri of(StoreLocation store) {
        return new ImageUri(null, store);
    }

    /**
     * Reads {@code s3://...} or an NBD URI.
     *
     * @throws IllegalArgumentException one sentence on what is wrong
     */
    public static ImageUri parse(String text) {
        if (StoreLocation.isStoreUri(text)) return of(StoreLocation.parse(text));
        return of(NbdUri.parse(text));
    }

    public boolean isStore() {
        return store != null;
    }

    /** True for an {@code nbds://} image (TLS credentials needed). */
    public boolean tls() {
        return nbd != null && nbd.tls();
    }

    /**
     * The same image with the server and region a command line gave ({@code --endpoint}, {@code --region}); an NBD
     * image does not take them.
     */
    public ImageUri withStore(URI endpoint, String region) {
        if (endpoint == null && region == null) return this;
        if (store == null) throw new IllegalArgumentException("--endpoint and --region are for an s3:// image, not " + nbd);
        return of(store.with(endpoint, region));
    }

    /** How the image is named to people (a store image without its server). */
    public String display() {
        return store != null ? store.display() : nbd.toString();
    }

    @Override
    public String toString() {
        return store != null ? store.toString() : nbd.toString();
    }
}
