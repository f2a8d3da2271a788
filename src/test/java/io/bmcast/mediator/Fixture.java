package io.bmcast.mediator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Paths and helpers shared by the mediator tests. */
final class Fixture {
    final Path dir;
    final Path local;
    final Path state;

    Fixture(Path dir) {
        this.dir = dir;
        this.local = dir.resolve("disk.img");
        this.state = dir.resolve("state");
    }

    /** For tests about concurrency, not durability: forces cost a loaded machine dearly. */
    static final Durability NO_SYNC = new Durability() {
        @Override
        public void force(java.nio.channels.FileChannel channel, Path path, boolean metadata) {}

        @Override
        public void syncDirectory(Path dir) {}
    };

    static MediatorOptions options(int regionSize, String bootId) {
        return MediatorOptions.of("vm1", "test://image")
                .withRegionSize(regionSize)
                .withBlockStatusChunk(regionSize * 8L)
                .withBootId(BootIdSource.fixed(bootId));
    }

    MediatedDisk open(TestImage image, MediatorOptions options) throws IOException {
        return MediatedDisk.open(image, local, state, options);
    }

    static byte[] read(MediatedDisk disk, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        disk.read(offset, b);
        return b.array();
    }

    static byte[] slice(byte[] a, long offset, int length) {
        return java.util.Arrays.copyOfRange(a, (int) offset, (int) offset + length);
    }

    byte[] localBytes() throws IOException {
        return Files.readAllBytes(local);
    }
}
