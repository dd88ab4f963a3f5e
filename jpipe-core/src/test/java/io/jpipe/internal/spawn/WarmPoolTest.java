package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.TestSupport;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A warm pool is an instance with a lifecycle of its own: its spares boot, then it idles with no
 * thread at all (nothing polls while spares wait), and closing it ends every spare; a closed pool
 * boots nothing and gives no spare.
 */
class WarmPoolTest {
  private static List<String> warmPoolThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .map(Thread::getName)
        .filter(n -> n.startsWith("jpipe-warm"))
        .toList();
  }

  @Test
  void anIdlePoolHasNoThreadAndClosingItEndsItsSpares() throws Exception {
    WarmPool pool = new WarmPool();
    try {
      assertTrue(pool.prestart(List.of(), 2, TimeUnit.MINUTES.toNanos(3)), "two spares ready");
      assertTrue(TestSupport.children().size() >= 2, "the spares are child processes");
      TestSupport.eventually(
          "no thread of the pool once its spares are ready", () -> warmPoolThreads().isEmpty());
    } finally {
      pool.close();
    }
    TestSupport.assertNoChildren();
    assertEquals(List.of(), warmPoolThreads(), "closing leaves no thread");
    assertFalse(pool.prestart(List.of(), 1, 0), "a closed pool boots nothing");
    try (Launcher.Task task =
        Launcher.Task.encode(
            "t", false, (io.jpipe.ChildProcess.Target0) () -> {}, new Object[0], List.of())) {
      assertNull(pool.take(task, TimeUnit.SECONDS.toNanos(10)), "and gives no spare");
    }
    assertEquals(List.of(), TestSupport.children().keySet().stream().toList());
  }
}
