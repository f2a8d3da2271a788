package io.bmcast.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Root tree of the workload guest ({@code debian-db}): the {@link DebianRoot Debian guest} plus PostgreSQL 15 and
 * fio from Debian's packages, a pgbench database prepared at build time, and a unit that starts a benchmark after
 * the ready marker and prints its throughput on the serial console once a second.
 *
 * <p>The benchmark is chosen on the kernel command line: {@code bmcast.workload=pgbench} (the default),
 * {@code fio} or {@code none}, and {@code bmcast.workload.seconds=N} (pgbench runs N s; fio runs each of its three
 * jobs N s). The same script runs by hand from the console: {@code bmcast-workload fio 10}. Console lines, one
 * {@code key=value} list each, {@code t} in seconds since that job began, {@code n} the length of the text between
 * the prefix and it (the line that ends a job comes twice):
 * <pre>
 *   bmcast-workload: start pgbench seconds=60 n=24
 *   bmcast-workload: pgbench t=3.0 tps=41.2 lat_ms=96.8 n=34
 *   bmcast-workload: done pgbench tps=40.7 n=21
 *   bmcast-workload: fio-seqread t=3.0 mbps=85.1 n=27          (MB/s, 10^6 bytes)
 *   bmcast-workload: fio-seqwrite t=3.0 mbps=60.3 n=28
 *   bmcast-workload: fio-randread t=3.0 iops=812.0 n=29
 *   bmcast-workload: failed fio-randread n=19                  (the job printed no figures)
 * </pre>
 *
 * <p>Sizes: pgbench scale {@value #PGBENCH_SCALE} is ~{@value #PGBENCH_SCALE}*15 MiB of tables and indexes, beyond
 * what a 512 MiB guest caches ({@code shared_buffers} is 64 MiB), so the database keeps reading its disk, and it
 * builds in about a minute here. fio reads a {@value #FIO_READ_MIB} MiB file of incompressible data that is part of
 * the image (so during deployment it comes over the link), with direct I/O so the guest's page cache hides nothing;
 * its sequential write goes to a new file, local from the start.
 */
final class DebianDbRoot {
    private DebianDbRoot() {}

    static final int PGBENCH_SCALE = 50;
    static final String DATABASE = "bench";
    static final int FIO_READ_MIB = 512;
    static final String FIO_DIR = "/var/lib/bmcast-fio";
    static final int DEFAULT_SECONDS = 60;
    static final String PG_VERSION = "15";
    private static final String PG_BIN = "/usr/lib/postgresql/" + PG_VERSION + "/bin";
    private static final String PG_DATA = "/var/lib/postgresql/" + PG_VERSION + "/main";
    private static final String PG_CONF = "/etc/postgresql/" + PG_VERSION + "/main";

    static void populate(Path root, String marker, HostKernel kernel, Consumer<String> progress) throws IOException {
        DebianRoot.populate(root, marker, kernel, List.of("postgresql-" + PG_VERSION, "fio"));
        Files.writeString(root.resolve("etc/hostname"), "bmcast-debian-db\n");
        Files.writeString(root.resolve(PG_CONF.substring(1)).resolve("conf.d/bmcast.conf"), """
                # bmcast workload guest: a small cache, so the database keeps reading its (streamed) disk
                shared_buffers = 64MB
                max_connections = 20
                """);
        progress.accept("preparing the pgbench database (scale " + PGBENCH_SCALE + ")");
        prepareDatabase(root);
        progress.accept("writing the " + FIO_READ_MIB + " MiB fio read file");
        Path fio = root.resolve(FIO_DIR.substring(1));
        Files.createDirectories(fio);
        TestData.writeRandom(fio.resolve("read.dat"), (long) FIO_READ_MIB << 20, 4343);
        Path script = root.resolve("usr/local/sbin/bmcast-workload");
        Files.createDirectories(script.getParent());
        Files.writeString(script, script());
        script.toFile().setExecutable(true, false);
        Path units = root.resolve("etc/systemd/system");
        Files.writeString(units.resolve("bmcast-workload.service"), """
                [Unit]
                Description=bmcast: the benchmark chosen on the kernel command line (bmcast.workload=)
                After=multi-user.target bmcast-ready.service postgresql.service postgresql@%s-main.service
                Wants=postgresql.service

                [Service]
                Type=simple
                ExecStart=/usr/local/sbin/bmcast-workload
                StandardOutput=tty
                StandardError=tty
                TTYPath=/dev/ttyS0

                [Install]
                WantedBy=multi-user.target
                """.formatted(PG_VERSION));
        Files.createSymbolicLink(units.resolve("multi-user.target.wants/bmcast-workload.service"),
                Path.of("/etc/systemd/system/bmcast-workload.service"));
    }

    /**
     * Runs the guest's own PostgreSQL inside the build tree ({@code chroot}, as the tree's postgres user, on a
     * socket in the tree's {@code /tmp}) to create the pgbench tables, then stops it cleanly so the data directory
     * needs no recovery at the guest's first boot.
     */
    private static void prepareDatabase(Path root) throws IOException {
        String[] ids = postgresIds(root);
        Files.createDirectories(root.resolve("run/postgresql"));
        HostCommand.run(Duration.ofMinutes(1), List.of("chown", ids[0] + ":" + ids[1], root.resolve("run/postgresql").toString()));
        List<String> asPostgres = List.of("chroot", "--userspec=" + ids[0] + ":" + ids[1], root.toString(),
                "env", "HOME=/var/lib/postgresql", "LC_ALL=C");
        String options = "-c config_file=" + PG_CONF + "/postgresql.conf -c listen_addresses= "
                + "-c unix_socket_directories=/tmp -c dynamic_shared_memory_type=mmap -c ssl=off";
        HostCommand.run(Duration.ofMinutes(2), with(asPostgres, PG_BIN + "/pg_ctl", "-D", PG_DATA, "-l",
                "/tmp/bmcast-build-postgres.log", "-w", "-t", "90", "-o", options, "start"));
        IOException failure = null;
        try {
            HostCommand.run(Duration.ofMinutes(1), with(asPostgres, PG_BIN + "/createdb", "-h", "/tmp", DATABASE));
            HostCommand.run(Duration.ofMinutes(20), with(asPostgres, PG_BIN + "/pgbench", "-h", "/tmp", "-i", "-q",
                    "-s", String.valueOf(PGBENCH_SCALE), DATABASE));
        } catch (IOException e) {
            failure = e;
        } finally {
            try {
                HostCommand.run(Duration.ofMinutes(2), with(asPostgres, PG_BIN + "/pg_ctl", "-D", PG_DATA, "-w",
                        "-m", failure == null ? "fast" : "immediate", "stop"));
            } catch (IOException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }
        if (failure != null) throw failure;
        Files.deleteIfExists(root.resolve("tmp/bmcast-build-postgres.log"));
        GuestBuilder.removeTree(root.resolve("run/postgresql"));
    }

    /** The uid and gid of the tree's own postgres user (the host's may differ or not exist). */
    private static String[] postgresIds(Path root) throws IOException {
        for (String line : Files.readAllLines(root.resolve("etc/passwd"))) {
            String[] f = line.split(":");
            if (f.length > 3 && f[0].equals("postgres")) return new String[] {f[2], f[3]};
        }
        throw new IOException("the guest tree has no postgres user: did postgresql-" + PG_VERSION + " install?");
    }

    private static List<String> with(List<String> prefix, String... more) {
        List<String> all = new ArrayList<>(prefix);
        all.addAll(List.of(more));
        return all;
    }

    /**
     * The guest's {@code bmcast-workload} script. pgbench's {@code -P 1} lines and fio's terse status (cumulative
     * kilobytes and runtime, every second) are turned into per-second figures by mawk (Debian's awk, in minbase),
     * reading line by line ({@code -W interactive}) and flushing every line.
     */
    static String script() {
        return """
                #!/bin/sh
                # bmcast-workload [pgbench|fio|none] [SECONDS]: throughput on stdout once a second (see bmcast's
                # DebianDbRoot). Without arguments, bmcast.workload= and bmcast.workload.seconds= on the kernel
                # command line choose (default pgbench, %1$d s).
                name=$1
                secs=$2
                for w in $(cat /proc/cmdline); do
                    case $w in
                        bmcast.workload=*) [ -n "$1" ] || name=${w#bmcast.workload=} ;;
                        bmcast.workload.seconds=*) [ -n "$2" ] || secs=${w#bmcast.workload.seconds=} ;;
                    esac
                done
                name=${name:-pgbench}
                secs=${secs:-%1$d}
                say() { s="$*"; echo "bmcast-workload: $s n=${#s}"; }
                # The serial console under TCG now and then repeats a character: every line carries its length
                # (n=) so a garbled one is dropped, and the line that ends a job is printed twice. mawk reads a pipe
                # in blocks unless -W interactive: without it every figure came out at the end of the run.
                AWK_LINE='function line(s) { printf "bmcast-workload: %%s n=%%d\\n", s, length(s); fflush() }
                    function end(s) { line(s); line(s) }'

                fio_job() { # JOB RW BS IODEPTH FILE SIZE DIRECTION METRIC
                    say "start fio-$1 seconds=$secs"
                    fio --name="$1" --filename="$5" --size="$6" --rw="$2" --bs="$3" --iodepth="$4" \\
                        --ioengine=libaio --direct=1 --time_based --runtime="$secs" \\
                        --output-format=terse --terse-version=3 --status-interval=1 \\
                    | mawk -W interactive -F';' -v job="$1" -v dir="$7" -v metric="$8" "$AWK_LINE"'
                        $1 == "3" {
                            kb = dir == "read" ? $6 : $47; ms = dir == "read" ? $9 : $50
                            if (ms - pms >= 500) {
                                s = (ms - pms) / 1000
                                v = metric == "iops" ? (kb - pkb) / 4 / s : (kb - pkb) * 1024 / 1e6 / s
                                line("fio-" job sprintf(" t=%%.1f %%s=%%.1f", ms / 1000, metric, v))
                                n++; pkb = kb; pms = ms
                            }
                        }
                        END { end(n ? "done fio-" job : "failed fio-" job) }'
                }

                case $name in
                none)
                    exit 0 ;;
                pgbench)
                    for i in $(seq 120); do
                        %2$s/pg_isready -q -h /run/postgresql && break
                        sleep 1
                    done
                    say "start pgbench seconds=$secs"
                    cd /tmp
                    runuser -u postgres -- %2$s/pgbench -h /run/postgresql -P 1 -T "$secs" -c 4 -j 2 %3$s 2>&1 \\
                    | mawk -W interactive "$AWK_LINE"'
                        /^progress:/ { line("pgbench t=" $2 " tps=" $4 " lat_ms=" $7); next }
                        /^tps = / { final = $3 }
                        /ERROR|FATAL|error:/ { line("pgbench-log " $0) }
                        END { end(final != "" ? "done pgbench tps=" final : "failed pgbench") }'
                    ;;
                fio)
                    fio_job seqread read 1M 8 %4$s/read.dat %5$dM read mbps
                    fio_job seqwrite write 1M 8 %4$s/write.dat 256M write mbps
                    fio_job randread randread 4k 32 %4$s/read.dat %5$dM read iops
                    rm -f %4$s/write.dat
                    ;;
                *)
                    say "failed unknown workload $name (pgbench, fio or none)" ;;
                esac
                """.formatted(DEFAULT_SECONDS, PG_BIN, DATABASE, FIO_DIR, FIO_READ_MIB);
    }
}
