package io.bmcast.guest;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import io.bmcast.util.Jackson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A built guest: a directory with {@code disk.img}, {@code vmlinuz}, optionally {@code initrd.img}, and
 * {@code guest.json} describing how to boot it and what to check. {@code guest.json} is written last, so a
 * directory with it is a finished build. A guest whose kind {@linkplain GuestKind#bootsItself boots itself} has
 * no {@code vmlinuz}: its disk carries boot loader and kernel ({@code "kernel": null, "bootLoader": "syslinux"}).
 *
 * @param append     kernel command line; it names the root by file-system UUID ({@code root=UUID=...}, resolved by
 *                   Debian's initramfs {@code initrd.img}), so it boots on any disk device; for a disk that boots
 *                   itself, the command line its boot loader passes (informational)
 * @param readyMarker line the guest prints on its console when it is ready for work
 * @param dataDir    directory inside the guest holding the test data and {@code SHA256SUMS}
 * @param checksums  SHA-256 of each test data file, by name inside {@code dataDir}
 * @param appData    path inside the guest of the extra never-read file, or null
 * @param appDataSize its size in bytes (0 if none)
 * @param revision   the recipe's {@linkplain GuestKind#revision revision} it was built by (1 when not recorded)
 */
public record GuestImage(Path dir, GuestKind kind, long diskSize, String append, String readyMarker,
                         String dataDir, Map<String, String> checksums, String appData, long appDataSize,
                         String appDataSha256, int revision) {
    /** On a busybox guest's kernel command line: check the data files at boot and print {@link #SELF_CHECK_LINE}. */
    public static final String SELF_CHECK_FLAG = "bmcast.selfcheck";
    /** The console line of that check: {@code bmcast-selfcheck: 8 of 8 files OK}. */
    public static final String SELF_CHECK_LINE = "bmcast-selfcheck:";

    public static final String JSON = "guest.json";
    public static final String READY_MARKER = "BMCAST-READY";
    /** The root of guests built before they named it by UUID (revision 4 and older); see {@link #append(String)}. */
    static final String NVME_ROOT = "root=/dev/nvme0n1";

    public Path disk() { return dir.resolve("disk.img"); }

    /** The kernel for QEMU's {@code -kernel}, or null when the disk boots itself through its boot loader. */
    public Path kernel() { return kind.bootsItself() ? null : dir.resolve("vmlinuz"); }

    /** Byte offset of the root (ext4) filesystem in {@link #disk()}: 0 for a bare filesystem image. */
    public long rootOffset() { return kind.bootsItself() ? BootableDisk.ROOT_OFFSET : 0; }

    /**
     * Debian's initramfs for this kernel: it loads virtio-blk (a module in the cloud kernel) and resolves
     * {@code root=UUID=}, so every kernel-booted sample guest needs it; null only for builds without it.
     */
    public Path initrd() {
        Path p = dir.resolve("initrd.img");
        return Files.exists(p) ? p : null;
    }

    /**
     * The kernel command line for a root disk at {@code rootDevice}, e.g. {@code /dev/vda} for virtio-blk. Guests
     * name their root by UUID, the same on every device: their command line is returned as is; only an old build
     * ({@code root=/dev/nvme0n1}) has its root device replaced.
     */
    public String append(String rootDevice) {
        if (kind.bootsItself()) return append;
        return append.replace(NVME_ROOT, "root=" + rootDevice);
    }

    public static GuestImage load(Path dir) throws IOException {
        Path f = dir.resolve(JSON);
        Map<String, Object> m;
        try {
            m = Jackson.MAPPER.readValue(f.toFile(), new TypeReference<Map<String, Object>>() {});
        } catch (JsonProcessingException e) {
            throw new IOException(f + " is not a guest description: " + e.getOriginalMessage(), e);
        }
        Map<String, String> sums = new LinkedHashMap<>();
        if (m.get("checksums") instanceof Map<?, ?> c) c.forEach((k, v) -> sums.put((String) k, (String) v));
        return new GuestImage(dir, GuestKind.parse((String) m.get("kind")), ((Number) m.get("diskSize")).longValue(),
                (String) m.get("append"), (String) m.get("readyMarker"), (String) m.get("dataDir"), sums,
                (String) m.get("appData"), m.get("appDataSize") instanceof Number n ? n.longValue() : 0,
                (String) m.get("appDataSha256"), m.get("revision") instanceof Number r ? r.intValue() : 1);
    }

    void save() throws IOException {
        boolean bootsItself = kind.bootsItself();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind.id());
        m.put("diskSize", diskSize);
        m.put("disk", "disk.img");
        m.put("kernel", bootsItself ? null : "vmlinuz");
        m.put("initrd", initrd() == null ? null : "initrd.img");
        m.put("bootLoader", bootsItself ? "syslinux" : null);
        m.put("rootOffset", rootOffset());
        m.put("append", append);
        m.put("readyMarker", readyMarker);
        m.put("dataDir", dataDir);
        m.put("checksumFile", dataDir + "/" + TestData.SUMS);
        m.put("checksums", checksums);
        m.put("appData", appData);
        m.put("appDataSize", appDataSize);
        m.put("appDataSha256", appDataSha256);
        m.put("revision", revision);
        Path tmp = dir.resolve(JSON + ".tmp");
        Files.writeString(tmp, Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(m) + "\n");
        Files.move(tmp, dir.resolve(JSON), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
