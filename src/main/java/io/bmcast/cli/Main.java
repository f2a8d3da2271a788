package io.bmcast.cli;

import io.bmcast.util.UsageException;
import java.util.Arrays;

/** Entry point of the {@code bmcast} launcher: dispatches to one sub-command. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        // One line per log record: "12:00:01 INFO conn#1 open: ..."
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT %4$s %5$s%6$s%n");
        }
        int rc;
        try {
            rc = run(args);
        } catch (UsageException e) {
            System.err.println("bmcast: " + e.getMessage());
            rc = 2;
        } catch (Exception e) {
            System.err.println("bmcast: " + e.getMessage());
            if (System.getenv("BMCAST_DEBUG") != null) e.printStackTrace();
            rc = 1;
        }
        System.exit(rc);
    }

    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.print(USAGE);
            return 0;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        return switch (args[0]) {
            case "version" -> { System.out.println("bmcast 0.1.0"); yield 0; }
            case "image-server", "serve-file" -> {
                try {
                    yield io.bmcast.imageserver.ServeCommand.run(args[0], rest);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
            }
            case "bench" -> {
                try {
                    yield io.bmcast.bench.BenchCommand.run(rest);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
            }
            case "guest" -> io.bmcast.guest.GuestCommand.run(rest);
            case "node" -> io.bmcast.node.NodeCommand.run(rest);
            case "instance" -> io.bmcast.instance.InstanceCommand.run(rest);
            case "demo" -> io.bmcast.demo.DemoCommand.run(rest);
            case "vm" -> io.bmcast.vmm.VmCommand.run(rest);
            default -> throw new UsageException("unknown command '" + args[0] + "' (try 'bmcast help')");
        };
    }

    static final String USAGE = """
            usage: bmcast COMMAND [OPTIONS]

            commands:
              help                 this text
              version              print the version
              demo [--rate 1Gbit] [--latency 200us] [--app-data 1G] [--keep]
                                   the whole story on this machine: build a sample guest, serve it,
                                   deploy it by streaming, check it, de-virtualize, compare with a copy
              image-server --dir DIR (--socket PATH | --listen HOST:PORT) [--rate RATE] [--latency DURATION]
                                   export every file of DIR read-only over NBD, named after the file
                                   without its extension (RATE: 200Mbit, 1Gbit...; DURATION: 200us...)
              serve-file FILE (--socket PATH | --listen HOST:PORT) [--writable] [--rate RATE] [--latency DURATION]
                                   export one file over NBD, as its stem and as the default export
              bench nbd [--size 1G] [--runtime 10s] [--dir DIR]
                                   fio's nbd engine against bmcast, nbdkit and qemu-nbd on one file
              bench startup [--guest busybox|debian] [--rate 1Gbit] [--latency 200us] [--app-data SIZE]
                            [--modes local,full-copy,sparse-copy,remote,qemu-stream,bmcast] [--out DIR]
                            [--estimate-full-copy[=WINDOW] | --exact-full-copy]
                                   instance startup side by side over one emulated link: table, JSON, PNG chart
              node --image URI --disk PATH --state DIR --socket PATH [--region-size 64K] [--hydrate-rate RATE]
                                   the mediator: serve the instance disk on SOCKET, fetching from URI on
                                   demand and copying the rest in the background
              node status --state DIR
                                   the mediator's progress as JSON
              instance run --image URI --disk PATH --state DIR [--kernel FILE [--initrd FILE] [--append STR]]
                           [--memory 512M] [--device nvme|virtio] [--console FILE] [--events FILE]
                           [--region-size 64K] [--hydrate-rate RATE] [--ready-marker STR]
                                   deploy one instance by streaming: mediator + QEMU, de-virtualized live
                                   once the disk is local; runs until the guest powers off
              guest build busybox|debian|busybox-disk [--out DIR] [--app-data SIZE]
                                   build (or reuse) a sample guest: sparse 32 GiB ext4 disk.img + vmlinuz;
                                   busybox-disk: a whole disk (MBR, syslinux, ext4) that boots itself
              vm accel             print the accelerator QEMU uses here (KVM only if a kernel really boots on it)
              vm boot GUEST (--nbd SOCKET | --disk FILE) [--bus nvme|virtio] [--accel kvm|tcg] [--memory MIB]
                   [--reconnect-delay S] [--work DIR] [--devirtualize-to FILE] [--hold] [--timeout DURATION]
                                   boot a built guest (dir, busybox, debian or busybox-disk), report when it is ready
            """;
}
