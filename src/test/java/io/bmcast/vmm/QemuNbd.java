package io.bmcast.vmm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * qemu-nbd serving one raw file read-write on a Unix socket: the real NBD peer these tests use in place of the
 * bmcast mediator. File locking is off so QEMU can open the same file as the de-virtualization target while
 * qemu-nbd still holds it (the mediator takes no such lock).
 */
final class QemuNbd implements AutoCloseable {
    private final Path file;
    private final Path socket;
    private final Path log;
    private Process process;

    QemuNbd(Path file, Path socket, Path log) {
        this.file = file;
        this.socket = socket;
        this.log = log;
    }

    QemuNbd start() throws IOException, InterruptedException {
        Files.deleteIfExists(socket);
        process = new ProcessBuilder(List.of("qemu-nbd", "--persistent", "--shared=4", "--socket=" + socket,
                "--image-opts", "driver=raw,file.driver=file,file.filename=" + file + ",file.locking=off"))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(socket)) {
            if (!process.isAlive()) throw new IOException("qemu-nbd exited: " + Files.readString(log));
            if (System.nanoTime() > deadline) throw new IOException("qemu-nbd socket did not appear");
            Thread.sleep(20);
        }
        return this;
    }

    /** SIGKILL: no goodbye to clients, like a crashed mediator. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
    }

    boolean isAlive() { return process != null && process.isAlive(); }

    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) kill9();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
