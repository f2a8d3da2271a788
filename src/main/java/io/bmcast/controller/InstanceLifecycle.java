package io.bmcast.controller;

import io.bmcast.controller.store.Database;
import io.bmcast.controller.store.EventRepository;
import io.bmcast.controller.store.ImageRow;
import io.bmcast.controller.store.InstanceRepository;
import io.bmcast.controller.store.InstanceRow;
import io.bmcast.controller.store.NewEvent;
import io.bmcast.controller.store.NodeRepository;
import io.bmcast.controller.store.StoreException;
import io.bmcast.fleet.Api;
import io.bmcast.fleet.InstanceState;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongSupplier;

/**
 * Launch and destroy as the API asks them. Each instance is its own state machine: a launch of N places
 * its N instances concurrently, each with its own claim, and one that finds no node stays pending for the
 * reconciler.
 */
public final class InstanceLifecycle {
    public static final int MAX_COUNT = 1000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Database db;
    private final InstanceRepository instances;
    private final NodeRepository nodes;
    private final EventRepository events;
    private final ImageCatalog images;
    private final Scheduler scheduler;
    private final Transitions transitions;
    private final ProgressBoard progress;
    private final ConsoleLogs consoles;
    private final SerializedLaunches serialized;
    private final FleetMetrics metrics;
    private final LongSupplier clockMs;

    InstanceLifecycle(Database db, InstanceRepository instances, NodeRepository nodes, EventRepository events,
            ImageCatalog images, Scheduler scheduler, Transitions transitions, ProgressBoard progress, ConsoleLogs consoles,
            SerializedLaunches serialized, FleetMetrics metrics, LongSupplier clockMs) {
        this.db = db;
        this.instances = instances;
        this.nodes = nodes;
        this.events = events;
        this.images = images;
        this.scheduler = scheduler;
        this.transitions = transitions;
        this.progress = progress;
        this.consoles = consoles;
        this.serialized = serialized;
        this.metrics = metrics;
        this.clockMs = clockMs;
    }

    /** Creates {@code count} instances of an image for the caller's project and places each on a free node. */
    public List<Api.Instance> launch(Principal who, Api.Launch request) throws InterruptedException {
        if (request == null || request.image() == null || request.image().isBlank()) throw ControllerException.invalid("a launch needs an image name (image)");
        int count = request.count() == 0 ? 1 : request.count();
        if (count < 1 || count > MAX_COUNT) throw ControllerException.invalid("count must be 1.." + MAX_COUNT + ", not " + request.count());
        String project = who.isOperator() ? Principal.OPERATOR_PROJECT : who.project();
        try (SerializedLaunches.Turn ignored = serialized.enter()) {
            ImageRow image = images.forLaunch(request.image(), serialized.enabled());
            OptionalLong largest = db.read(nodes::largestDisk);
            if (largest.isPresent() && image.sizeBytes() > largest.getAsLong()) {
                throw ControllerException.unprocessable("image '" + image.name() + "' (" + Units.formatSize(image.sizeBytes())
                        + ") is larger than the disk of every node (the largest holds " + Units.formatSize(largest.getAsLong()) + ")");
            }
            List<String> ids = create(image, project, count);
            ids.forEach(serialized::expect);
            List<String> scheduled = placeAll(ids, project, image.sizeBytes());
            metrics.launched(count, clockMs.getAsLong());
            serialized.awaitTaken(scheduled);
            return db.read(tx -> {
                List<Api.Instance> out = new ArrayList<>(ids.size());
                for (String id : ids) instances.find(tx, id).ifPresent(r -> out.add(Views.instance(r, progress)));
                return out;
            });
        }
    }

    private List<String> create(ImageRow image, String project, int count) {
        List<String> ids = new ArrayList<>(count);
        for (int i = 0; i < count; i++) ids.add(newId());
        boolean created;
        try {
            created = db.transaction(tx -> {
                long now = clockMs.getAsLong();
                for (String id : ids) {
                    if (!instances.insertPending(tx, id, project, image.name(), now)) return false;
                    events.append(tx, new NewEvent("instance.pending", project, id, null, "instance " + id + " of image "
                            + image.name() + " launched in project " + project));
                }
                return true;
            });
        } catch (StoreException e) {
            if (!e.isForeignKey()) throw e;
            created = false; // the image's removal committed first: its row is gone, and so is this launch
        }
        if (!created) throw ControllerException.notFound("no image named '" + image.name() + "' (it was removed)");
        return ids;
    }

    /**
     * Places every instance concurrently; answers those that got a node. The agents of a launch of several hear of
     * their instances together, once all are placed: each one's first answer then names the same members.
     */
    private List<String> placeAll(List<String> ids, String project, long diskBytes) throws InterruptedException {
        List<String> scheduled = new ArrayList<>();
        if (ids.size() == 1) {
            if (placeOrWait(ids.getFirst(), project, diskBytes, true).isPresent()) scheduled.add(ids.getFirst());
            return scheduled;
        }
        List<String> placedOn = new ArrayList<>();
        try (ExecutorService each = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Optional<String>>> placed = new ArrayList<>();
            for (String id : ids) placed.add(each.submit(() -> placeOrWait(id, project, diskBytes, false)));
            for (int i = 0; i < ids.size(); i++) {
                try {
                    Optional<String> node = placed.get(i).get();
                    if (node.isPresent()) {
                        scheduled.add(ids.get(i));
                        placedOn.add(node.get());
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException r) throw r;
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            placedOn.forEach(scheduler::wake);
        }
        return scheduled;
    }

    private Optional<String> placeOrWait(String id, String project, long diskBytes, boolean wake) {
        Optional<String> node = scheduler.place(id, project, diskBytes, false, wake);
        if (node.isPresent()) return node;
        db.read(tx -> events.append(tx, new NewEvent("instance.waiting", project, id, null, "instance " + id
                + " waits for a free node with a disk of at least " + Units.formatSize(diskBytes)
                + "; it is placed when one frees up")));
        return node;
    }

    /** Asks for an instance's end: power off, scrub, delete. Asking again while it goes away changes nothing. */
    public Api.Instance destroy(Principal who, String id) {
        return destroy(who, id, false);
    }

    /**
     * As {@link #destroy(Principal, String)}; with {@code force} (the operator only), the instance is deleted at once
     * even if its node is dead, and the node must be scrubbed and verified before any reuse.
     */
    public Api.Instance destroy(Principal who, String id, boolean force) {
        if (force && !who.isOperator()) throw ControllerException.forbidden("destroy --force needs the operator's token");
        for (int attempt = 0; attempt < 10; attempt++) {
            InstanceRow inst = visible(who, id);
            if (force) {
                if (inst.state() == InstanceState.DELETED) return Views.instance(inst, progress);
                if (transitions.forceDelete(inst, "deleted by the operator (destroy --force) while " + inst.state().wire()
                        + (inst.node() != null ? " on node " + inst.node() : ""))) {
                    progress.forget(id);
                    metrics.destroyed(clockMs.getAsLong());
                    return get(who, id);
                }
                continue;
            }
            if (inst.state().isGoingAway()) return Views.instance(inst, progress);
            boolean holdsNode = inst.node() != null && db.read(tx -> nodes.find(tx, inst.node()))
                    .map(n -> id.equals(n.instanceId())).orElse(false);
            boolean moved;
            if (inst.state() == InstanceState.PENDING || (inst.state() == InstanceState.FAILED && !holdsNode)) {
                moved = transitions.move(inst, InstanceState.DELETED, null, false, "instance " + id + " destroyed (it held no node)");
            } else {
                moved = transitions.move(inst, InstanceState.DESTROYING, null, false, "instance " + id
                        + " destroy requested: node " + inst.node() + " powers it off and scrubs its disk");
            }
            if (moved) {
                metrics.destroyed(clockMs.getAsLong());
                return get(who, id);
            }
        }
        throw new ControllerException(ControllerException.Kind.UNAVAILABLE, "instance " + id + " keeps changing state; try again");
    }

    public List<Api.Instance> list(Principal who, boolean withDeleted) {
        return db.read(tx -> instances.list(tx, who.projectFilter(), withDeleted)).stream()
                .map(r -> Views.instance(r, progress)).toList();
    }

    public Api.Instance get(Principal who, String id) {
        return Views.instance(visible(who, id), progress);
    }

    /** Where a console read lands (see {@link ConsoleLogs#locate}); {@link #consoleCopy} writes it. */
    public ConsoleLogs.Piece console(Principal who, String id, long from, long max) {
        visible(who, id);
        try {
            return consoles.locate(id, from, max);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void consoleCopy(String id, ConsoleLogs.Piece piece, java.io.OutputStream out) throws IOException {
        consoles.copy(id, piece, out);
    }

    /** The instance if the caller may see it; another project's instance does not exist for them. */
    private InstanceRow visible(Principal who, String id) {
        InstanceRow r = db.read(tx -> instances.find(tx, id)).orElse(null);
        if (r == null || !who.sees(r.project())) throw ControllerException.notFound("no instance " + id);
        return r;
    }

    private static String newId() {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return "i-" + HexFormat.of().formatHex(b);
    }
}
