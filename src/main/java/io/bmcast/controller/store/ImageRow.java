package io.bmcast.controller.store;

/** An image's cached metadata (its extent map is read apart: {@link ImageRepository#extents}). */
public record ImageRow(String name, String uri, long sizeBytes, long allocatedBytes, int extentCount, String append,
        boolean hasKernel, boolean hasInitrd, long createdAt) {}
