package io.bmcast.guest;

import io.bmcast.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A built guest: a directory with {@code disk.img}, {@code vmlinuz}, optionally {@code initrd.img}, and
 * {@code guest.json} describing how to boot it and what to check. {@code guest.json} is written last, so a
 * directory with it is a finished build.
 *
 * @param append     kernel command line for an NVMe root (see {@link #append(String)} for other buses)
 * @param readyMarker line the guest prints on its console when it is ready for work
 * @param dataDir    directory inside the guest holding the test data and {@code SHA256SUMS}
 * @param checksums  SHA-256 of each test data file, by name inside {@code dataDir}
 * @param appData    path inside the guest of the extra never-read file, or null
 * @param appDataSize its size in bytes (0 if none)
 */
public record GuestImage(Path dir, GuestKind kind, long diskSize, String append, String readyMarker,
                         String dataDir, Map<String, String> checksums, String appData, long appDataSize,
                         String appDataSha256) {
    public static final String JSON = "guest.json";
    public static final String READY_MARKER = "BMCAST-READY";
    static final String NVME_ROOT = "root=/dev/nvme0n1";

    public Path disk() { return dir.resolve("disk.img"); }

    public Path kernel() { return dir.resolve("vmlinuz"); }

    /** Debian's initramfs for this kernel; needed only when the root disk is virtio-blk (a module). */
    public Path initrd() {
        Path p = dir.resolve("initrd.img");
        return Files.exists(p) ? p : null;
    }

    /** The kernel command line for a root disk at {@code rootDevice}, e.g. {@code /dev/vda} for virtio-blk. */
    public String append(String rootDevice) {
        return append.replace(NVME_ROOT, "root=" + rootDevice);
    }

    public static GuestImage load(Path dir) throws IOException {
        Path f = dir.resolve(JSON);
        Map<String, Object> m;
        try {
            m = Json.parseObject(Files.readString(f));
        } catch (IllegalArgumentException e) {
            throw new IOException(f + ": " + e.getMessage(), e);
        }
        Map<String, String> sums = new LinkedHashMap<>();
        if (m.get("checksums") instanceof Map<?, ?> c) c.forEach((k, v) -> sums.put((String) k, (String) v));
        return new GuestImage(dir, GuestKind.parse((String) m.get("kind")), ((Number) m.get("diskSize")).longValue(),
                (String) m.get("append"), (String) m.get("readyMarker"), (String) m.get("dataDir"), sums,
                (String) m.get("appData"), m.get("appDataSize") instanceof Number n ? n.longValue() : 0,
                (String) m.get("appDataSha256"));
    }

    void save() throws IOException {
        Map<String, Object> m = Json.object("kind", kind.id(), "diskSize", diskSize, "disk", "disk.img",
                "kernel", "vmlinuz", "initrd", initrd() == null ? null : "initrd.img",
                "append", append, "appendVirtio", append("/dev/vda"), "readyMarker", readyMarker,
                "dataDir", dataDir, "checksumFile", dataDir + "/" + TestData.SUMS, "checksums", checksums,
                "appData", appData, "appDataSize", appDataSize, "appDataSha256", appDataSha256);
        Path tmp = dir.resolve(JSON + ".tmp");
        Files.writeString(tmp, Json.writePretty(m));
        Files.move(tmp, dir.resolve(JSON), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
