package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code jpipe demo} runs the document's examples with real child JVMs; the children write to the
 * same standard output as the command, so the command runs in a JVM of its own here.
 */
class DemoCommandTest {
  /** Runs {@code jpipe ARGS} in a new JVM and returns its standard output lines. */
  static List<String> jpipe(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "jpipe did not finish");
    assertEquals(0, p.exitValue(), "exit code; output:\n" + out);
    return out.lines().toList();
  }

  @Test
  void demoPipePrintsWhatTheDocumentPrints() throws Exception {
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      expected.add("c1 received: " + i);
    }
    expected.add("main process");
    assertEquals(expected, jpipe("demo", "pipe"));
    assertEquals(expected, jpipe("demo"));
  }

  @Test
  void demoLockDeliversEveryItemExactlyOnceIncludingZero() throws Exception {
    assertEachItemOnceThenMain(jpipe("demo", "lock"));
  }

  @Test
  void demoQueueDeliversEveryItemExactlyOnceWithoutAUserLock() throws Exception {
    assertEachItemOnceThenMain(jpipe("demo", "queue"));
  }

  @Test
  void demoPoolLosesOnlyTheKilledWorkersTask() throws Exception {
    String squares = "[1, 4, 9, 16, 25, 36, 49, 64, 81, 100]";
    assertEquals(
        List.of(
            "submit(square, 7) -> 49",
            "map(square, 1..10) -> " + squares,
            "kill -9 the worker that runs the doomed task",
            "the doomed task failed alone: its worker was killed by signal 9",
            "the tasks submitted meanwhile -> [121, 144, 169, 196, 225]",
            "after the kill, map(square, 1..10) -> " + squares,
            "workers now: 2 (the killed one replaced: true)",
            "main process"),
        jpipe("demo", "pool"));
  }

  @Test
  void demoHelpShowsThePoolsCPythonEquivalent() throws Exception {
    String help = String.join("\n", jpipe("demo", "--help"));
    assertTrue(help.contains("pool: a ProcessPool of 2 worker JVMs"), help);
    assertTrue(help.contains("with multiprocessing.Pool(2) as pool:"), help);
    assertTrue(help.contains("pool.map(square, range(1, 11))"), help);
  }

  /** Each of 0..9 printed once by c1 or c2 (either may get any item), then "main process". */
  private static void assertEachItemOnceThenMain(List<String> lines) {
    assertEquals("main process", lines.get(lines.size() - 1));
    TreeSet<Integer> items = new TreeSet<>();
    for (String line : lines.subList(0, lines.size() - 1)) {
      assertTrue(line.matches("c[12] received: \\d+"), line);
      int item = Integer.parseInt(line.substring(line.indexOf(": ") + 2));
      assertTrue(items.add(item), "received twice: " + item);
    }
    assertEquals(new TreeSet<>(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)), items);
  }
}
