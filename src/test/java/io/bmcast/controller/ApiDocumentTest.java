package io.bmcast.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.bmcast.util.Jackson;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The served OpenAPI document lists every endpoint the controller answers, and the dashboard's files are there. */
class ApiDocumentTest {
    @TempDir
    Path dir;

    @Test
    void theOpenApiDocumentListsEveryEndpoint() throws Exception {
        try (Controller c = Controller.start(ControllerConfig.defaults(dir))) {
            ApiClient.Response r = new ApiClient(c.url(), c.adminToken()).get("/api/v1/openapi.json");
            assertEquals(200, r.status());
            JsonNode doc = Jackson.MAPPER.readTree(r.body());
            assertTrue(doc.path("openapi").asText().startsWith("3."));
            List<String> missing = new ArrayList<>();
            int endpoints = 0;
            for (String route : c.routes()) {
                String[] methodPath = route.split(" ", 2);
                if (!List.of("GET", "POST", "PUT", "DELETE", "PATCH").contains(methodPath[0])) continue;
                if (methodPath[1].startsWith("/assets/")) continue; // the dashboard's static files
                endpoints++;
                if (doc.path("paths").path(methodPath[1]).path(methodPath[0].toLowerCase(Locale.ROOT)).isMissingNode()) missing.add(route);
            }
            assertTrue(endpoints >= 20, "routes seen: " + c.routes());
            assertEquals(List.of(), missing, "endpoints the OpenAPI document does not list");

            ApiClient anonymous = new ApiClient(c.url(), null);
            assertTrue(anonymous.get("/").body().contains("<html"), "the dashboard page");
            ApiClient.Response chart = anonymous.get("/assets/uplot/uPlot.iife.min.js");
            assertEquals(200, chart.status());
            assertTrue(chart.body().contains("uPlot"));
            assertEquals(200, anonymous.get("/assets/uplot/uPlot.min.css").status());
        }
    }
}
