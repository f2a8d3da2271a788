package io.bmcast.agent;

import io.bmcast.fleet.AgentProtocol.Assignment;
import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.InstanceState;

/**
 * The agent's one decision, level-triggered as a Kubernetes reconciler's: given what it holds and what the
 * controller's last directive wants, the next step. Pure, so the real agent and the hollow nodes take the same
 * steps, and a lost or repeated directive only means the same answer again.
 */
public final class Reconcile {
    private Reconcile() {}

    public enum Step {
        /** Nothing to do: keep running, keep reporting. */
        KEEP,
        /** Start the assigned instance. */
        START,
        /** Power the held instance off (if it runs) and scrub the disk. */
        DESTROY,
        /** The held instance is deleted and the controller knows it: drop it, then decide again. */
        FORGET,
        /** The controller wants deleted an instance this agent does not hold: report it deleted (once the disk is clean). */
        ADOPT_DELETED,
        /** The controller believes an instance runs here that this agent had and lost: report it failed, never restart it. */
        LOST
    }

    /**
     * What the agent holds.
     *
     * @param goingAway a destroy was started (it may be finished: then the phase is deleted or, when the scrub could
     *                  not be verified, failed)
     * @param deletedReported the last heartbeat the controller answered carried phase deleted
     */
    public record Held(String id, InstanceState phase, boolean goingAway, boolean deletedReported) {}

    /**
     * @param held the instance on this machine, or null
     * @param assignment the directive's, or null
     * @param hadBefore whether this agent has held the assigned instance before (its id is in its history)
     */
    public static Step next(Held held, Assignment assignment, boolean hadBefore) {
        String wanted = assignment == null ? null : assignment.instanceId();
        boolean wantDeleted = assignment != null && AgentProtocol.DESIRED_DELETED.equals(assignment.desired());
        if (held == null) {
            if (assignment == null) return Step.KEEP;
            if (wantDeleted) return Step.ADOPT_DELETED;
            return hadBefore ? Step.LOST : Step.START;
        }
        if (held.phase() == InstanceState.DELETED) {
            if (held.id().equals(wanted)) return Step.KEEP;
            return held.deletedReported() ? Step.FORGET : Step.KEEP;
        }
        // A scrub that could not be verified leaves the instance failed: try again (the caller paces the retries).
        if (held.goingAway()) return held.phase() == InstanceState.FAILED ? Step.DESTROY : Step.KEEP;
        if (!held.id().equals(wanted) || wantDeleted) return Step.DESTROY;
        return Step.KEEP;
    }
}
