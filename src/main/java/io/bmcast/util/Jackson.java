package io.bmcast.util;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/** The project's one JSON configuration: records and maps in, compact JSON out, unknown fields tolerated. */
public final class Jackson {
    /** Thread-safe once configured; share it rather than building mappers per call (each one is costly). */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .configure(SerializationFeature.FAIL_ON_EMPTY_BEANS, false);

    private Jackson() {}
}
