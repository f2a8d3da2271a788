package io.bmcast.util;

import io.bmcast.util.Units;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Command-line options of one sub-command: {@code --name value}, {@code --name=value} and boolean
 * {@code --flag}. Every option must be declared by a getter call before {@link #done()}, which rejects
 * anything left over, so a typo is an error rather than a silently ignored option.
 */
public final class Args {
    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();
    private final Set<String> used = new HashSet<>();
    private final Set<String> flags;

    /** @param flags names (without dashes) of options that take no value */
    public Args(String[] args, String... flags) {
        this.flags = Set.of(flags);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("--") && a.length() > 2) {
                String name = a.substring(2);
                String value;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                } else if (this.flags.contains(name)) {
                    value = "true";
                } else if (i + 1 < args.length) {
                    value = args[++i];
                } else {
                    throw new UsageException("option --" + name + " needs a value");
                }
                if (values.put(name, value) != null) throw new UsageException("option --" + name + " given twice");
            } else {
                positional.add(a);
            }
        }
    }

    public String string(String name, String fallback) {
        used.add(name);
        return values.getOrDefault(name, fallback);
    }

    public String required(String name) {
        String v = string(name, null);
        if (v == null) throw new UsageException("missing --" + name);
        return v;
    }

    public boolean flag(String name) {
        used.add(name);
        return Boolean.parseBoolean(values.getOrDefault(name, "false"));
    }

    public long size(String name, long fallback) {
        String v = string(name, null);
        return v == null ? fallback : parse(name, v, Units::parseSize);
    }

    /** A rate in bytes per second, or {@code fallback} when absent. */
    public long rate(String name, long fallback) {
        String v = string(name, null);
        return v == null ? fallback : parse(name, v, Units::parseRate);
    }

    /** A required option parsed by {@code parser}; its IllegalArgumentException becomes a usage error. */
    public <T> T parsed(String name, java.util.function.Function<String, T> parser) {
        String v = required(name);
        try {
            return parser.apply(v);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + name + ": " + e.getMessage());
        }
    }

    public long durationNanos(String name, long fallback) {
        String v = string(name, null);
        return v == null ? fallback : parse(name, v, Units::parseDurationNanos);
    }

    public List<String> positional() {
        return positional;
    }

    /** Rejects options nobody asked for and more positional arguments than {@code maxPositional}. */
    public void done(int maxPositional) {
        for (String name : values.keySet()) {
            if (!used.contains(name)) throw new UsageException("unknown option --" + name);
        }
        if (positional.size() > maxPositional) throw new UsageException("unexpected argument '" + positional.get(maxPositional) + "'");
    }

    private interface Parser {
        long parse(String text);
    }

    private static long parse(String name, String value, Parser p) {
        try {
            return p.parse(value);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + name + ": " + e.getMessage());
        }
    }
}
