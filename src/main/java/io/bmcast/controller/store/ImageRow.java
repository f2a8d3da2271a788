package io.bmcast.controller.store;

/**
 * An image's cached metadata (its extent map and boot profile are read apart: {@link ImageRepository#extents},
 * {@link ImageRepository#bootProfile}).
 *
 * @param bootProfileSha256 the recorded boot profile's SHA-256 (its ETag), or null: none recorded yet
 */
public record ImageRow(String name, String uri, long sizeBytes, long allocatedBytes, int extentCount, String append,
        boolean hasKernel, boolean hasInitrd, long createdAt, String bootProfileSha256, long bootProfileBytes) {
    public ImageRow(String name, String uri, long sizeBytes, long allocatedBytes, int extentCount, String append,
            boolean hasKernel, boolean hasInitrd, long createdAt) {
        this(name, uri, sizeBytes, allocatedBytes, extentCount, append, hasKernel, hasInitrd, createdAt, null, 0);
    }
}
