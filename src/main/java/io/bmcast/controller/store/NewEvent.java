package io.bmcast.controller.store;

/** An event to append; {@code project}, {@code instanceId} and {@code node} may be null. */
public record NewEvent(String type, String project, String instanceId, String node, String message) {

    public static NewEvent node(String type, String node, String message) {
        return new NewEvent(type, null, null, node, message);
    }
}
