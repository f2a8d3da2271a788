package io.bmcast.cli;

import io.bmcast.fleet.Api;
import io.bmcast.util.Jackson;
import io.bmcast.util.Units;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** Formatting shared by the fleet commands. */
final class Fleet {
    private Fleet() {}

    static void printJson(PrintWriter out, Object value) throws IOException {
        out.println(Jackson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value));
    }

    static String size(long bytes) {
        return bytes <= 0 ? "0" : Units.formatSize(bytes);
    }

    static String percent(double fraction) {
        return String.format(Locale.ROOT, "%.0f%%", 100 * fraction);
    }

    /** "12s", "3m", "2h" since an ISO-8601 instant; "-" when absent. */
    static String age(String iso) {
        if (iso == null) return "-";
        try {
            long s = Duration.between(Instant.parse(iso), Instant.now()).toSeconds();
            if (s < 120) return Math.max(0, s) + "s";
            if (s < 7200) return s / 60 + "m";
            return s / 3600 + "h";
        } catch (DateTimeParseException e) {
            return iso;
        }
    }

    static String bar(double fraction, int width) {
        int full = (int) Math.round(Math.max(0, Math.min(1, fraction)) * width);
        return "[" + "#".repeat(full) + ".".repeat(width - full) + "]";
    }

    static String progress(Api.Instance i) {
        return size(i.bytesOnDemand()) + " / " + size(i.bytesBackground());
    }
}
