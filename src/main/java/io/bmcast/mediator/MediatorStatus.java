package io.bmcast.mediator;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Locale;

/**
 * A snapshot of a mediated disk's progress, for {@code node status} and the status file.
 *
 * @param sizeBytes the disk as the guest sees it (the local disk's size)
 * @param imageSizeBytes the image's part of it, the only part that streams; regions cover it alone
 * @param bytesOnDemand bytes fetched because the guest needed them
 * @param bytesBackground bytes copied by the hydrator
 * @param regionsFromHoles regions made present without any transfer (holes/zeros in the image)
 * @param hydrationRateBytesPerSec bytes fetched per second (both kinds) over the last sampling interval
 * @param hydration the background copy's share and deadline; null when there is no background copy (remote-only)
 * @param sources where a store image's chunks came from and how many verified; null for an NBD image
 */
public record MediatorStatus(String name, long sizeBytes, long imageSizeBytes, int regionSize, long regionsTotal, long regionsPresent,
        long bytesOnDemand, long bytesBackground, long regionsFromHoles, Phase phase,
        double hydrationRateBytesPerSec, long sourceErrors, String lastError, Hydration hydration, Sources sources) {

    public MediatorStatus(String name, long sizeBytes, long imageSizeBytes, int regionSize, long regionsTotal,
            long regionsPresent, long bytesOnDemand, long bytesBackground, long regionsFromHoles, Phase phase,
            double hydrationRateBytesPerSec, long sourceErrors, String lastError, Hydration hydration) {
        this(name, sizeBytes, imageSizeBytes, regionSize, regionsTotal, regionsPresent, bytesOnDemand, bytesBackground,
                regionsFromHoles, phase, hydrationRateBytesPerSec, sourceErrors, lastError, hydration, null);
    }

    /**
     * A store image's chunks: stored bytes (what crossed the wire, compressed where stored so) from this node's
     * cache, from peers and from the store; distinct chunks verified; answers refused because they did not verify;
     * requests repeated (a failing store, a refused answer).
     */
    public record Sources(long bytesFromCache, long bytesFromPeers, long bytesFromStore, long chunksVerified,
            long chunksRejected, long fetchRetries) {}

    public MediatorStatus(String name, long sizeBytes, long imageSizeBytes, int regionSize, long regionsTotal,
            long regionsPresent, long bytesOnDemand, long bytesBackground, long regionsFromHoles, Phase phase,
            double hydrationRateBytesPerSec, long sourceErrors, String lastError) {
        this(name, sizeBytes, imageSizeBytes, regionSize, regionsTotal, regionsPresent, bytesOnDemand, bytesBackground,
                regionsFromHoles, phase, hydrationRateBytesPerSec, sourceErrors, lastError, null, null);
    }

    /**
     * What the background copy is allowed and where it is heading.
     *
     * @param share the least share of the link it has while the guest is busy, now (raised by a deadline); 0: it
     *     runs only while the guest is idle
     * @param deadlineEpochMs {@code --hydrate-by} as wall-clock time, 0 for none
     * @param projectedEpochMs when the disk would be local if the guest stayed busy throughout (idle time only
     *     brings it closer), 0 when not measured yet
     * @param bytesWhileBusy of the background bytes, those copied in batches started while the guest was busy
     *     (the share at work; the rest used the guest's idle time)
     */
    public record Hydration(double share, long deadlineEpochMs, long projectedEpochMs, long bytesWhileBusy) {}

    public double fractionPresent() {
        return regionsTotal == 0 ? 1.0 : (double) regionsPresent / regionsTotal;
    }

    /**
     * One JSON object on one line. Written with jackson-core's streaming generator rather than the project's
     * ObjectMapper: the mediator writes this every second and starts once per deployment, and databind's classes
     * would add to that start what this one flat object does not need.
     */
    public String toJson() {
        StringWriter out = new StringWriter(384);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("name", name);
            g.writeNumberField("sizeBytes", sizeBytes);
            g.writeNumberField("imageSizeBytes", imageSizeBytes);
            g.writeNumberField("regionSize", regionSize);
            g.writeNumberField("regionsTotal", regionsTotal);
            g.writeNumberField("regionsPresent", regionsPresent);
            g.writeNumberField("fractionPresent", Math.round(fractionPresent() * 1e6) / 1e6);
            g.writeNumberField("bytesOnDemand", bytesOnDemand);
            g.writeNumberField("bytesBackground", bytesBackground);
            g.writeNumberField("regionsFromHoles", regionsFromHoles);
            g.writeStringField("phase", phase.name().toLowerCase(Locale.ROOT));
            g.writeNumberField("hydrationRateBytesPerSec", Math.round(hydrationRateBytesPerSec));
            g.writeNumberField("sourceErrors", sourceErrors);
            g.writeStringField("lastError", lastError);
            g.writeBooleanField("backgroundCopy", hydration != null);
            if (hydration != null) {
                g.writeNumberField("hydrateShare", Math.round(hydration.share() * 1000) / 1000.0);
                g.writeStringField("hydrateBy", instant(hydration.deadlineEpochMs()));
                g.writeStringField("projectedLocal", instant(hydration.projectedEpochMs()));
                g.writeNumberField("bytesBackgroundWhileBusy", hydration.bytesWhileBusy());
            }
            if (sources != null) {
                g.writeNumberField("bytesFromCache", sources.bytesFromCache());
                g.writeNumberField("bytesFromPeers", sources.bytesFromPeers());
                g.writeNumberField("bytesFromStore", sources.bytesFromStore());
                g.writeNumberField("chunksVerified", sources.chunksVerified());
                g.writeNumberField("chunksRejected", sources.chunksRejected());
                g.writeNumberField("fetchRetries", sources.fetchRetries());
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException("writing to a StringWriter", e);
        }
        return out.toString();
    }

    private static String instant(long epochMs) {
        return epochMs == 0 ? null : java.time.Instant.ofEpochMilli(epochMs).toString();
    }

    private static final JsonFactory JSON = new JsonFactory();
}
