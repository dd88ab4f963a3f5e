package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.spawn.Launcher;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** CPython's process tests again, with children started from warm spares (CPython's forkserver). */
class WarmCPythonProcessPortTest extends CPythonProcessPortTest {
  @BeforeEach
  void warm() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.WARM);
    // A warm start with no spare ready spawns: have one ready, so that the tests' first child
    // (at least) is a spare that takes its task.
    assertTrue(ChildProcess.prestartWarm(Duration.ofMinutes(2)), "a spare is ready");
  }

  @AfterEach
  void cold() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.SPAWN);
    Launcher.warm().closePool();
  }
}
