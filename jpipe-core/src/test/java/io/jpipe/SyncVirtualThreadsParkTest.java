package io.jpipe;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Virtual threads park, never pin: each scenario of {@link SyncVirtualThreadScenarios}
 * (ProcessEvent, ProcessSemaphore, ProcessCondition of a reentrant ProcessLock, ProcessBarrier)
 * runs in a JVM of its own whose virtual-thread scheduler has exactly one carrier, so a single
 * blocked call that pinned it would stall the thread that releases all the others.
 */
class SyncVirtualThreadsParkTest {
  @ParameterizedTest(name = "{0} x {1}")
  @CsvSource({"event, 200", "semaphore, 200", "condition, 200", "barrier, 200"})
  void manyBlockedVirtualThreadsOnOneCarrierAllFinish(String scenario, int n) throws Exception {
    VirtualThreadsParkTest.runOnOneCarrier(
        List.of(), SyncVirtualThreadScenarios.class, scenario, n);
  }
}
