package io.jpipe;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Virtual threads blocked on shared-memory ends (in a receive, in {@link Connections#waitAny}, in a
 * send that waits for room) park, never pin: each scenario of {@link VirtualThreadScenarios}, on
 * shared-memory pipes, runs in a JVM whose virtual-thread scheduler has exactly one carrier. (A
 * shared-memory pipe is four descriptors in one process, so 2,000 pipes stay within the sandbox's
 * limit of 20,000.)
 */
class ShmVirtualThreadsParkTest {
  @ParameterizedTest(name = "{0} x {1}")
  @CsvSource({"recv, 2000", "waitAny, 2000", "send, 500"})
  void manyBlockedVirtualThreadsOnOneCarrierAllFinish(String scenario, int n) throws Exception {
    VirtualThreadsParkTest.runOnOneCarrier(
        List.of("sh", "-c", "ulimit -n 65536 2>/dev/null || true; exec \"$@\"", "sh"),
        VirtualThreadScenarios.class,
        scenario,
        n,
        "shm");
  }
}
