package io.bmcast.controller.store;

/**
 * An image's cached metadata (its extent map and boot profile are read apart: {@link ImageRepository#extents},
 * {@link ImageRepository#bootProfile}).
 *
 * @param bootProfileSha256 the recorded boot profile's SHA-256 (its ETag), or null: none recorded yet
 * @param manifestSha256 for an {@code s3://} image, the SHA-256 of the manifest verified at add (deployments refuse
 *     any other); null for an NBD image or one added before it was recorded
 */
public record ImageRow(String name, String uri, long sizeBytes, long allocatedBytes, int extentCount, String append,
        boolean hasKernel, boolean hasInitrd, long createdAt, String bootProfileSha256, long bootProfileBytes, String manifestSha256) {
    public ImageRow(String name, String uri, long sizeBytes, long allocatedBytes, int extentCount, String append,
            boolean hasKernel, boolean hasInitrd, long createdAt) {
        this(name, uri, sizeBytes, allocatedBytes, extentCount, append, hasKernel, hasInitrd, createdAt, null, 0, null);
    }

    public ImageRow(String name, String uri, long sizeBytes, long allocatedBytes, int extentCount, String append,
            boolean hasKernel, boolean hasInitrd, long createdAt, String bootProfileSha256, long bootProfileBytes) {
        this(name, uri, sizeBytes, allocatedBytes, extentCount, append, hasKernel, hasInitrd, createdAt, bootProfileSha256, bootProfileBytes, null);
    }
}
