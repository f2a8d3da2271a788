package io.bmcast.cli;

import java.util.Arrays;

/** Entry point of the {@code bmcast} launcher: dispatches to one sub-command. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
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
            case "guest" -> io.bmcast.guest.GuestCommand.run(rest);
            case "vm" -> io.bmcast.vmm.VmCommand.run(rest);
            default -> throw new UsageException("unknown command '" + args[0] + "' (try 'bmcast help')");
        };
    }

    static final String USAGE = """
            usage: bmcast COMMAND [OPTIONS]

            commands:
              help                 this text
              version              print the version
              guest build busybox|debian [--out DIR] [--app-data SIZE]
                                   build (or reuse) a sample guest: sparse 32 GiB ext4 disk.img + vmlinuz
              vm accel             print the accelerator QEMU uses here (KVM only if a kernel really boots on it)
              vm boot GUEST (--nbd SOCKET | --disk FILE) [--bus nvme|virtio] [--accel kvm|tcg] [--memory MIB]
                   [--reconnect-delay S] [--work DIR] [--devirtualize-to FILE] [--hold] [--timeout DURATION]
                                   boot a built guest (dir, busybox or debian), report when it is ready
            """;
}
