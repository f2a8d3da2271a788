package io.bmcast.imageserver;

import io.bmcast.storage.FileExport;
import io.bmcast.storage.LinkEmulatedExport;
import io.bmcast.storage.LinkEmulator;
import io.bmcast.transport.Export;
import io.bmcast.util.Units;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The image server's catalogue: every regular file of a directory as a read-only export named after
 * the file without its extension, each behind the same emulated link (one rate shared by all clients).
 */
public final class ImageServer {
    private ImageServer() {}

    /**
     * Opens the exports of {@code dir}, sorted by name.
     *
     * @throws IllegalArgumentException when the directory is missing or empty, or two files share a stem
     */
    public static Map<String, Export> exportsOf(Path dir, LinkEmulator link) throws IOException {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("not a directory: " + dir);
        TreeMap<String, Path> byName = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files.sorted()::iterator) {
                if (!Files.isRegularFile(f) || f.getFileName().toString().startsWith(".")) continue;
                String name = FileExport.stem(f);
                Path other = byName.putIfAbsent(name, f);
                if (other != null) {
                    throw new IllegalArgumentException("two images would both be exported as '" + name + "': "
                            + other.getFileName() + " and " + f.getFileName());
                }
            }
        }
        if (byName.isEmpty()) throw new IllegalArgumentException("no image files in " + dir);
        Map<String, Export> exports = new LinkedHashMap<>();
        List<Export> opened = new ArrayList<>();
        try {
            for (var e : byName.entrySet()) {
                Path f = e.getValue();
                long size = Files.size(f);
                FileExport fe = new FileExport(e.getKey(), f.getFileName() + " (" + Units.formatSize(size) + ")", f, true);
                opened.add(fe);
                exports.put(e.getKey(), wrap(fe, link));
            }
        } catch (IOException | RuntimeException ex) {
            for (Export x : opened) {
                try {
                    x.close();
                } catch (IOException ignored) {
                    // reporting the first failure
                }
            }
            throw ex;
        }
        return exports;
    }

    /** Puts {@code export} behind {@code link} unless the link emulates nothing. */
    public static Export wrap(Export export, LinkEmulator link) {
        return link == null || link.isIdentity() ? export : new LinkEmulatedExport(export, link);
    }
}
