package io.bmcast.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one startup mode achieved, measured from the start of that mode.
 *
 * @param mode         the mode's name ({@code local}, {@code full-copy}, ..., {@code bmcast})
 * @param readySeconds until the guest printed its ready marker, including any copy before the boot;
 *                     negative when the guest never got there
 * @param localSeconds until every byte of the disk was on the local disk; {@link Double#NaN} when the mode never
 *                     makes the disk local (remote boot), negative when it should have but did not
 * @param bytesMoved   payload bytes read from the image server, counted on the server side
 * @param readyEstimated true when {@code readySeconds} is extrapolated, not measured
 * @param localEstimated true when {@code localSeconds} is extrapolated, not measured
 * @param extra        further figures for {@code results.json} (insertion ordered)
 */
public record ModeResult(String mode, double readySeconds, double localSeconds, long bytesMoved, boolean readyEstimated, boolean localEstimated,
        Map<String, Object> extra) {

    public ModeResult {
        extra = new LinkedHashMap<>(extra);
    }

    public static ModeResult of(String mode, double ready, double local, long bytes) {
        return new ModeResult(mode, ready, local, bytes, false, false, Map.of());
    }

    public boolean ready() {
        return readySeconds >= 0;
    }

    /** True when the mode ever makes the disk local (NaN means "not applicable"). */
    public boolean makesLocal() {
        return !Double.isNaN(localSeconds);
    }

    public boolean estimated() {
        return readyEstimated || localEstimated;
    }

    public ModeResult withExtra(String key, Object value) {
        ModeResult r = new ModeResult(mode, readySeconds, localSeconds, bytesMoved, readyEstimated, localEstimated, extra);
        r.extra.put(key, value);
        return r;
    }
}
