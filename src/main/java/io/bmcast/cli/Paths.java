package io.bmcast.cli;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** URL path segments from what a person typed. */
final class Paths {
    private Paths() {}

    static String segment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
