/**
 * The mediator: one guest disk that streams itself in from an image server while the guest runs on it.
 *
 * <ul>
 *   <li>{@link io.bmcast.mediator.MediatedDisk} — the {@code Export} the VMM's NBD client talks to: the request
 *       paths (read, write, zero, flush) and the commit that makes them durable.</li>
 *   <li>{@code RegionMap} — per-region state ABSENT/FETCHING/PRESENT in a byte array, lock-striped.</li>
 *   <li>{@code LiveMap} (shared mapping, survives a process crash) and {@code CommittedMap} (two forced slots,
 *       survives a power loss): the two persisted region maps; {@code StateDir} names the files and checks
 *       that a state dir belongs to this image and this local disk.</li>
 *   <li>{@code LocalDisk} — positional I/O on the machine's disk; {@link io.bmcast.mediator.LocalDiskFull} — its
 *       ENOSPC, told apart from an image server failure; {@code SourceHoles} — which regions of the image are zero
 *       (block status, cached).</li>
 *   <li>{@link io.bmcast.mediator.Hydrator} — the background copy, with its policies as small types driven
 *       by time passed in: {@code HydrationOrder}, {@link io.bmcast.mediator.YieldPolicy} (guest first, with a
 *       minimum share for the copy while the guest is busy), {@link io.bmcast.mediator.HydrationDeadline},
 *       {@link io.bmcast.storage.TokenBucket}, {@link io.bmcast.mediator.Backoff};
 *       {@code BootProfile} records what a boot needed so the next deployment prefetches it;
 *       {@link io.bmcast.mediator.ThreadPriority} can lower the copy's threads' CPU priority (off by default).</li>
 *   <li>{@link io.bmcast.mediator.MediatorStatus} — progress for {@code node status}, also written as
 *       {@code status.json}.</li>
 * </ul>
 */
package io.bmcast.mediator;
