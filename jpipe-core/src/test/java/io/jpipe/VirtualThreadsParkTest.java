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
 * Virtual threads park, never pin: each scenario of {@link VirtualThreadScenarios} runs in a JVM of
 * its own whose virtual-thread scheduler has exactly one carrier, so a single blocked call that
 * pinned it would stall the thread that releases all the others.
 */
class VirtualThreadsParkTest {
  @ParameterizedTest(name = "{0} x {1}")
  @CsvSource({"recv, 10000", "waitAny, 10000", "accept, 1000", "join, 4", "lock, 100"})
  void manyBlockedVirtualThreadsOnOneCarrierAllFinish(String scenario, int n) throws Exception {
    // 10,000 pipes are 20,000 descriptors: raise the limit (root may, as in CI) for this JVM only.
    runOnOneCarrier(
        List.of("sh", "-c", "ulimit -n 65536 2>/dev/null || true; exec \"$@\"", "sh"),
        VirtualThreadScenarios.class,
        scenario,
        n);
  }

  /**
   * Runs {@code main scenario n more...} in a JVM whose virtual-thread scheduler has one carrier,
   * after {@code prefix} (a wrapper command, or nothing), and checks it ends with status 0 saying
   * OK.
   */
  static void runOnOneCarrier(
      List<String> prefix, Class<?> main, String scenario, int n, String... more) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(
        List.of(
            java,
            "--enable-native-access=ALL-UNNAMED",
            "-Xshare:auto",
            "-Djdk.virtualThreadScheduler.parallelism=1",
            "-Djdk.virtualThreadScheduler.maxPoolSize=1",
            "-cp",
            System.getProperty("java.class.path"),
            main.getName(),
            scenario,
            Integer.toString(n)));
    cmd.addAll(List.of(more));
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
