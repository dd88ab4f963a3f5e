package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    cmd.addAll(
        List.of(
            java,
            "--enable-native-access=ALL-UNNAMED",
            "-Xshare:auto",
            "-Djdk.virtualThreadScheduler.parallelism=1",
            "-Djdk.virtualThreadScheduler.maxPoolSize=1",
            "-cp",
            System.getProperty("java.class.path"),
            SyncVirtualThreadScenarios.class.getName(),
            scenario,
            Integer.toString(n)));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out;
    try {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the scenario JVM ended");
    } catch (IOException | InterruptedException e) {
      p.destroyForcibly();
      throw e;
    }
    System.out.println("[virtual threads] " + scenario + ": " + out.strip());
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("OK "), out);
  }
}
