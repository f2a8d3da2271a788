package io.bmcast.mediator;

import java.nio.file.Path;

/**
 * How a {@link MediatedDisk} is set up.
 *
 * @param name the export name
 * @param imageIdentity what the state dir must belong to, e.g. the image URI and size
 * @param regionSize power of two, 4 KiB..4 MiB. 64 KiB by default: small enough that a boot does not
 *     drag in much it does not need, large enough that a 32 GiB map is 512 Ki regions (64 KiB of bitmap to
 *     commit) and a background batch of 4 MiB is 64 regions.
 * @param blockStatusChunk how much of the image one block-status query covers (power of two >= region)
 * @param commitIntervalNs how often the housekeeper commits the durable map when regions changed
 * @param statusIntervalNs how often the housekeeper writes {@code status.json}
 * @param bootId the machine's boot id (process crash vs reboot)
 * @param durability where forces go (tests model power loss there)
 * @param bootProfile a profile recorded by an earlier deployment of this image, to prefetch first; null
 *     for none (the state dir's own profile is used when it has one)
 * @param sourceExtents the image's data extents as the control plane caches them, trusted instead of the
 *     image server's block status; null to ask the image server
 */
public record MediatorOptions(String name, String imageIdentity, int regionSize, long blockStatusChunk,
        long commitIntervalNs, long statusIntervalNs, BootIdSource bootId, Durability durability, Path bootProfile,
        ImageExtents sourceExtents) {

    public MediatorOptions(String name, String imageIdentity, int regionSize, long blockStatusChunk,
            long commitIntervalNs, long statusIntervalNs, BootIdSource bootId, Durability durability, Path bootProfile) {
        this(name, imageIdentity, regionSize, blockStatusChunk, commitIntervalNs, statusIntervalNs, bootId, durability,
                bootProfile, null);
    }

    public static final int MIN_REGION = 4 << 10;
    public static final int MAX_REGION = 4 << 20;

    public MediatorOptions {
        if (Integer.bitCount(regionSize) != 1 || regionSize < MIN_REGION || regionSize > MAX_REGION) {
            throw new IllegalArgumentException("region size must be a power of two from 4 KiB to 4 MiB: " + regionSize);
        }
        if (imageIdentity == null || imageIdentity.isEmpty()) throw new IllegalArgumentException("no image identity");
    }

    public static MediatorOptions of(String name, String imageIdentity) {
        return new MediatorOptions(name, imageIdentity, 64 << 10, 128L << 20, 1_000_000_000L, 1_000_000_000L,
                BootIdSource.LINUX, Durability.SYSTEM, null);
    }

    public MediatorOptions withRegionSize(int size) {
        return new MediatorOptions(name, imageIdentity, size, Math.max(blockStatusChunk, size), commitIntervalNs,
                statusIntervalNs, bootId, durability, bootProfile, sourceExtents);
    }

    public MediatorOptions withBlockStatusChunk(long chunk) {
        return new MediatorOptions(name, imageIdentity, regionSize, chunk, commitIntervalNs, statusIntervalNs,
                bootId, durability, bootProfile, sourceExtents);
    }

    public MediatorOptions withIntervals(long commitNs, long statusNs) {
        return new MediatorOptions(name, imageIdentity, regionSize, blockStatusChunk, commitNs, statusNs, bootId,
                durability, bootProfile, sourceExtents);
    }

    public MediatorOptions withBootId(BootIdSource source) {
        return new MediatorOptions(name, imageIdentity, regionSize, blockStatusChunk, commitIntervalNs,
                statusIntervalNs, source, durability, bootProfile, sourceExtents);
    }

    public MediatorOptions withDurability(Durability d) {
        return new MediatorOptions(name, imageIdentity, regionSize, blockStatusChunk, commitIntervalNs,
                statusIntervalNs, bootId, d, bootProfile, sourceExtents);
    }

    public MediatorOptions withBootProfile(Path profile) {
        return new MediatorOptions(name, imageIdentity, regionSize, blockStatusChunk, commitIntervalNs,
                statusIntervalNs, bootId, durability, profile, sourceExtents);
    }

    public MediatorOptions withSourceExtents(ImageExtents extents) {
        return new MediatorOptions(name, imageIdentity, regionSize, blockStatusChunk, commitIntervalNs,
                statusIntervalNs, bootId, durability, bootProfile, extents);
    }
}
