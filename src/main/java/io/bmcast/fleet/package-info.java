/**
 * The fleet's shared vocabulary: the instance and node lifecycles (one table each, as Ironic keeps its
 * provision states) and the wire model that the controller, the agents and the CLI exchange as JSON.
 *
 * <p>Dependencies: {@code fleet} depends on nothing of bmcast but {@code util}; {@code controller} and
 * {@code agent} depend on it and never on each other; the controller never imports the mediator or QEMU code,
 * the agent never touches the database.
 */
package io.bmcast.fleet;
