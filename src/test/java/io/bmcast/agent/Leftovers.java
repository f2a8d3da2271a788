package io.bmcast.agent;

import java.nio.file.Path;

/** For tests outside this package that run agents: whatever a failed test left running on a node is killed. */
public final class Leftovers {
    private Leftovers() {}

    /** Kills the session (instance JVM, mediator, QEMU) of the instance recorded under an agent's WORK, if any. */
    public static void killInstance(Path work) {
        MachineTest.killSession(work);
    }
}
