package io.bmcast.mediator;

import io.bmcast.util.Json;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A snapshot of a mediated disk's progress, for {@code node status} and the status file.
 *
 * @param sizeBytes the disk as the guest sees it (the local disk's size)
 * @param imageSizeBytes the image's part of it, the only part that streams; regions cover it alone
 * @param bytesOnDemand bytes fetched because the guest needed them
 * @param bytesBackground bytes copied by the hydrator
 * @param regionsFromHoles regions made present without any transfer (holes/zeros in the image)
 * @param hydrationRateBytesPerSec bytes fetched per second (both kinds) over the last sampling interval
 */
public record MediatorStatus(String name, long sizeBytes, long imageSizeBytes, int regionSize, long regionsTotal, long regionsPresent,
        long bytesOnDemand, long bytesBackground, long regionsFromHoles, Phase phase,
        double hydrationRateBytesPerSec, long sourceErrors, String lastError) {

    public double fractionPresent() {
        return regionsTotal == 0 ? 1.0 : (double) regionsPresent / regionsTotal;
    }

    /** One JSON object on one line. */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("sizeBytes", sizeBytes);
        m.put("imageSizeBytes", imageSizeBytes);
        m.put("regionSize", regionSize);
        m.put("regionsTotal", regionsTotal);
        m.put("regionsPresent", regionsPresent);
        m.put("fractionPresent", Math.round(fractionPresent() * 1e6) / 1e6);
        m.put("bytesOnDemand", bytesOnDemand);
        m.put("bytesBackground", bytesBackground);
        m.put("regionsFromHoles", regionsFromHoles);
        m.put("phase", phase.name().toLowerCase(Locale.ROOT));
        m.put("hydrationRateBytesPerSec", Math.round(hydrationRateBytesPerSec));
        m.put("sourceErrors", sourceErrors);
        m.put("lastError", lastError);
        return Json.write(m);
    }
}
