package io.bmcast.mediator;

import java.util.Locale;

/**
 * A snapshot of a mediated disk's progress, for {@code node status} and the status file.
 *
 * @param bytesOnDemand bytes fetched because the guest needed them
 * @param bytesBackground bytes copied by the hydrator
 * @param regionsFromHoles regions made present without any transfer (holes/zeros in the image)
 * @param hydrationRateBytesPerSec bytes fetched per second (both kinds) over the last sampling interval
 */
public record MediatorStatus(String name, long sizeBytes, int regionSize, long regionsTotal, long regionsPresent,
        long bytesOnDemand, long bytesBackground, long regionsFromHoles, Phase phase,
        double hydrationRateBytesPerSec, long sourceErrors, String lastError) {

    public double fractionPresent() {
        return regionsTotal == 0 ? 1.0 : (double) regionsPresent / regionsTotal;
    }

    /** One JSON object on one line. */
    public String toJson() {
        StringBuilder b = new StringBuilder(320).append('{');
        field(b, "name").append(quote(name)).append(',');
        field(b, "sizeBytes").append(sizeBytes).append(',');
        field(b, "regionSize").append(regionSize).append(',');
        field(b, "regionsTotal").append(regionsTotal).append(',');
        field(b, "regionsPresent").append(regionsPresent).append(',');
        field(b, "fractionPresent").append(String.format(Locale.ROOT, "%.6f", fractionPresent())).append(',');
        field(b, "bytesOnDemand").append(bytesOnDemand).append(',');
        field(b, "bytesBackground").append(bytesBackground).append(',');
        field(b, "regionsFromHoles").append(regionsFromHoles).append(',');
        field(b, "phase").append(quote(phase.name().toLowerCase(Locale.ROOT))).append(',');
        field(b, "hydrationRateBytesPerSec").append(Math.round(hydrationRateBytesPerSec)).append(',');
        field(b, "sourceErrors").append(sourceErrors).append(',');
        field(b, "lastError").append(lastError == null ? "null" : quote(lastError));
        return b.append('}').toString();
    }

    private static StringBuilder field(StringBuilder b, String name) {
        return b.append('"').append(name).append("\":");
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }
}
