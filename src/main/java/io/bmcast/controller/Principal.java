package io.bmcast.controller;

/**
 * Who is calling, as their bearer token says: the operator (sees everything; launches into project
 * {@value #OPERATOR_PROJECT}), an agent (the join token: agent endpoints and boot files only), or a project.
 */
public record Principal(Role role, String project) {
    public enum Role { OPERATOR, AGENT, PROJECT }

    /** The project of the operator's own instances. */
    public static final String OPERATOR_PROJECT = "admin";

    public static final Principal OPERATOR = new Principal(Role.OPERATOR, OPERATOR_PROJECT);
    public static final Principal AGENT = new Principal(Role.AGENT, null);

    public static Principal project(String name) {
        return new Principal(Role.PROJECT, name);
    }

    public boolean isOperator() {
        return role == Role.OPERATOR;
    }

    /** The project whose instances this caller may see, or null for all of them. */
    public String projectFilter() {
        return role == Role.OPERATOR ? null : project;
    }

    public boolean sees(String instanceProject) {
        return role == Role.OPERATOR || (role == Role.PROJECT && project.equals(instanceProject));
    }

    public String wireRole() {
        return role.name().toLowerCase(java.util.Locale.ROOT);
    }
}
