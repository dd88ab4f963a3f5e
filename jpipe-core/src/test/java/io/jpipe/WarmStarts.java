package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.spawn.Launcher;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Runs every test of the class that implements it with children started from warm spares. Its
 * {@code @AfterEach} runs before those of the test class's superclass, so the pool is closed before
 * their check that no child is left.
 */
interface WarmStarts {
  /**
   * Makes warm the default start method. A warm start with no spare ready spawns: have one ready,
   * so that the tests' first child (at least) is a spare that takes its task.
   */
  @BeforeEach
  default void warm() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.WARM);
    assertTrue(ChildProcess.prestartWarm(Duration.ofMinutes(2)), "a spare is ready");
  }

  /** Makes spawn the default again, and ends the spares. */
  @AfterEach
  default void cold() {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.SPAWN);
    Launcher.warm().closePool(); // before the check that no child is left
  }
}
