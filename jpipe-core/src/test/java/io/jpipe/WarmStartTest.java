package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.spawn.Launcher;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Warm starts with no spare ready (back to back, or many at once) all succeed, and a spare left
 * behind by a parent that exits goes away quietly. Nothing here is about speed: {@code jpipe bench}
 * measures that.
 */
class WarmStartTest {
  @AfterEach
  void noSpareLeft() throws InterruptedException {
    Launcher.warm().closePool();
    TestSupport.assertNoChildren();
  }

  /** Starts a warm child that sends {@code value} back, and checks that it did and exited 0. */
  private static void roundTrip(Object value) throws Exception {
    try (Pipe pipe = Pipe.open()) {
      ChildProcess child =
          ChildProcess.of(Children::sendBack, pipe.conn2(), value)
              .startMethod(ChildProcess.StartMethod.WARM);
      child.start();
      pipe.conn2().close();
      assertEquals(value, pipe.conn1().recv());
      assertTrue(child.join(TestSupport.PATIENCE), "the child exited");
      assertEquals(0, child.exitCode().orElseThrow());
    }
  }

  /** Whether a child is a spare that took its task (its main's first argument is "spare"). */
  private static boolean isSpare(ChildProcess child) throws java.io.IOException {
    byte[] cmdline = Files.readAllBytes(Path.of("/proc/" + child.pid() + "/cmdline"));
    List<String> args = List.of(new String(cmdline, UTF8).split("\0"));
    int main = 0;
    while (main < args.size() && !args.get(main).endsWith("ChildMain")) {
      main++;
    }
    assertTrue(main + 1 < args.size(), "a child's command line: " + args);
    return args.get(main + 1).equals("spare");
  }

  @Test
  void aWarmStartWithNoSpareReadySpawnsAndOneWithASpareUsesIt() throws Exception {
    for (boolean ready : new boolean[] {false, true}) {
      if (ready) {
        assertTrue(ChildProcess.prestartWarm(Duration.ofMinutes(2)), "a spare is ready");
      }
      try (Pipe pipe = Pipe.open()) {
        ChildProcess child =
            ChildProcess.of(Children::waitForMessage, pipe.conn2())
                .startMethod(ChildProcess.StartMethod.WARM);
        child.start();
        assertEquals(ready, isSpare(child), ready ? "the spare took it" : "it was spawned");
        pipe.conn1().send("go");
        assertTrue(child.join(TestSupport.PATIENCE), "the child exited");
        assertEquals(0, child.exitCode().orElseThrow());
      }
      Launcher.warm().closePool(); // the spare that boots after a start
    }
  }

  @Test
  void nPrestartedSparesServeNWarmStartsBackToBackAndAreReplaced() throws Exception {
    int n = 3;
    assertTrue(ChildProcess.prestartWarm(n, Duration.ofMinutes(3)), n + " spares are ready");
    List<Pipe> pipes = new ArrayList<>();
    List<ChildProcess> children = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        Pipe pipe = Pipe.open();
        pipes.add(pipe);
        ChildProcess child =
            ChildProcess.of(Children::waitForMessage, pipe.conn2())
                .startMethod(ChildProcess.StartMethod.WARM);
        child.start();
        children.add(child);
        assertTrue(isSpare(child), "warm start " + i + " of " + n + " took a spare");
      }
      for (int i = 0; i < n; i++) {
        pipes.get(i).conn1().send("go");
        assertTrue(children.get(i).join(TestSupport.PATIENCE), "the child exited");
        assertEquals(0, children.get(i).exitCode().orElseThrow());
      }
    } finally {
      for (Pipe pipe : pipes) {
        pipe.close();
      }
    }
    // The spares taken boot again in the background, once the starts have paused.
    TestSupport.eventually(n + " replacement spares", () -> TestSupport.children().size() >= n);
  }

  @Test
  void theNumberOfSparesIsBounded() {
    assertThrows(IllegalArgumentException.class, () -> ChildProcess.prestartWarm(0, Duration.ZERO));
    assertThrows(
        IllegalArgumentException.class, () -> ChildProcess.prestartWarm(65, Duration.ZERO));
  }

  @Test
  void backToBackWarmStartsAllSucceed() throws Exception {
    for (int i = 0; i < 20; i++) {
      roundTrip("start " + i);
    }
  }

  @Test
  void warmStartsAtOnceFromSeveralThreadsAllSucceed() throws Exception {
    List<CompletableFuture<Void>> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int thread = t;
      threads.add(
          TestSupport.async(
              () -> {
                for (int i = 0; i < 3; i++) {
                  roundTrip(thread + "/" + i);
                }
                return null;
              }));
    }
    for (CompletableFuture<Void> f : threads) {
      f.get(5, TimeUnit.MINUTES);
    }
  }

  @ParameterizedTest(name = "spare {0}")
  @ValueSource(strings = {"booting", "idle"})
  void aSpareOutlivingItsParentExitsQuietly(String state) throws Exception {
    List<String> cmd =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED",
            "-cp",
            System.getProperty("java.class.path"),
            WarmParent.class.getName(),
            state);
    Process parent = new ProcessBuilder(cmd).start();
    List<Long> spares = new ArrayList<>();
    try {
      // The spares inherit the parent's stdout and stderr: both reach end of file only when the
      // parent and every spare have exited.
      CompletableFuture<String> out =
          TestSupport.async(() -> new String(parent.getInputStream().readAllBytes(), UTF8));
      CompletableFuture<String> err =
          TestSupport.async(() -> new String(parent.getErrorStream().readAllBytes(), UTF8));
      assertTrue(parent.waitFor(3, TimeUnit.MINUTES), "the parent exited");
      String stdout = out.get(2, TimeUnit.MINUTES);
      for (String line : stdout.lines().toList()) {
        assertTrue(line.startsWith("spare "), stdout);
        spares.add(Long.parseLong(line.substring(6)));
      }
      assertFalse(spares.isEmpty(), "the parent left a spare behind");
      assertEquals("", err.get(2, TimeUnit.MINUTES), "nothing on stderr, from parent or spare");
      assertEquals(0, parent.exitValue());
      for (long pid : spares) {
        TestSupport.eventually("spare " + pid + " gone", () -> !running(pid));
      }
    } finally {
      parent.destroyForcibly();
      for (long pid : spares) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  /** Whether a process runs: it exists and is not a zombie (its new parent reaps it, or not). */
  private static boolean running(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (java.io.IOException gone) {
      return false;
    }
  }
}
