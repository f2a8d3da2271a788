package io.bmcast.agent;

import static io.bmcast.agent.Reconcile.Step.ADOPT_DELETED;
import static io.bmcast.agent.Reconcile.Step.DESTROY;
import static io.bmcast.agent.Reconcile.Step.FORGET;
import static io.bmcast.agent.Reconcile.Step.KEEP;
import static io.bmcast.agent.Reconcile.Step.LOST;
import static io.bmcast.agent.Reconcile.Step.START;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.bmcast.fleet.AgentProtocol;
import io.bmcast.fleet.AgentProtocol.Assignment;
import io.bmcast.fleet.InstanceState;
import org.junit.jupiter.api.Test;

/** The agent's decisions, one per situation a node can be in when a directive arrives (again). */
class ReconcileTest {
    static Assignment run(String id) {
        return new Assignment(id, AgentProtocol.DESIRED_RUNNING, null);
    }

    static Assignment delete(String id) {
        return new Assignment(id, AgentProtocol.DESIRED_DELETED, null);
    }

    static Reconcile.Held held(String id, InstanceState phase) {
        return new Reconcile.Held(id, phase, false, false);
    }

    @Test
    void anIdleNodeStartsWhatIsAssignedOnce() {
        assertEquals(KEEP, Reconcile.next(null, null, false));
        assertEquals(START, Reconcile.next(null, run("a"), false));
        assertEquals(KEEP, Reconcile.next(held("a", InstanceState.STARTING), run("a"), true), "a repeated directive starts nothing twice");
    }

    @Test
    void anInstanceThisAgentHadAndLostIsReportedNotRestarted() {
        assertEquals(LOST, Reconcile.next(null, run("a"), true));
        assertEquals(KEEP, Reconcile.next(held("a", InstanceState.FAILED), run("a"), true), "a failed instance stays failed");
    }

    @Test
    void destroyWhenAskedWhenUnassignedOrReplaced() {
        assertEquals(DESTROY, Reconcile.next(held("a", InstanceState.STREAMING), delete("a"), true));
        assertEquals(DESTROY, Reconcile.next(held("a", InstanceState.DEVIRTUALIZED), null, true));
        assertEquals(DESTROY, Reconcile.next(held("a", InstanceState.STOPPED), run("b"), false));
        assertEquals(KEEP, Reconcile.next(new Reconcile.Held("a", InstanceState.SCRUBBING, true, false), delete("a"), true),
                "a destroy in progress is not started again");
        assertEquals(DESTROY, Reconcile.next(new Reconcile.Held("a", InstanceState.FAILED, true, false), delete("a"), true),
                "a scrub that was not verified is tried again");
    }

    @Test
    void aDeletedInstanceIsForgottenOnlyOnceTheControllerKnows() {
        assertEquals(KEEP, Reconcile.next(new Reconcile.Held("a", InstanceState.DELETED, true, false), null, true));
        assertEquals(KEEP, Reconcile.next(new Reconcile.Held("a", InstanceState.DELETED, true, true), delete("a"), true));
        assertEquals(FORGET, Reconcile.next(new Reconcile.Held("a", InstanceState.DELETED, true, true), null, true));
        assertEquals(FORGET, Reconcile.next(new Reconcile.Held("a", InstanceState.DELETED, true, true), run("b"), false));
    }

    @Test
    void deletingWhatIsNotHereIsReportedDeleted() {
        assertEquals(ADOPT_DELETED, Reconcile.next(null, delete("a"), false));
        assertEquals(ADOPT_DELETED, Reconcile.next(null, delete("a"), true));
    }
}
