package io.jpipe.internal.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The watcher thread that sleeps on the futex for the virtual threads of a {@link SharedWord}. */
class SharedWordWatcherTest {
  /**
   * A watcher that cannot be started (here: a thread started already, as the start of a thread the
   * system cannot make also throws) fails the wait and leaves no virtual waiter counted, so the
   * next waiter starts a watcher and the word is not polled for a waiter that is gone.
   */
  @Test
  void aWatcherThatFailsToStartLeavesNoWaiterCounted() throws Exception {
    ThreadFactory real = SharedWord.watcherFactory;
    Thread[] started = new Thread[1];
    SharedWord.watcherFactory =
        r -> {
          started[0] = Thread.ofPlatform().start(() -> {});
          return started[0]; // its start() throws IllegalThreadStateException
        };
    try (Arena arena = Arena.ofShared()) {
      SharedWord word = new SharedWord(arena.allocate(4, 4), 0);
      Throwable e = failureOf(onVirtualThread(word));
      assertInstanceOf(IllegalThreadStateException.class, e);
      assertEquals(0, word.virtualWaiters());
      started[0].join();

      SharedWord.watcherFactory = real;
      CompletableFuture<Boolean> waiter = onVirtualThread(word);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (word.virtualWaiters() != 1) {
        assertTrue(System.nanoTime() - deadline < 0, "the waiter never waited");
        Thread.sleep(5);
      }
      word.set(1);
      word.wakeAll();
      assertTrue(waiter.get(30, TimeUnit.SECONDS));
      assertEquals(0, word.virtualWaiters());
      word.close();
    } finally {
      SharedWord.watcherFactory = real;
    }
  }

  /** Waits on a virtual thread for the word to leave 0 (30 s at most). */
  private static CompletableFuture<Boolean> onVirtualThread(SharedWord word) {
    CompletableFuture<Boolean> f = new CompletableFuture<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try {
                f.complete(word.await(0, SharedWord.deadline(TimeUnit.SECONDS.toNanos(30)), true));
              } catch (Throwable e) {
                f.completeExceptionally(e);
              }
            });
    return f;
  }

  private static Throwable failureOf(CompletableFuture<?> f) throws Exception {
    try {
      f.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("expected the wait to fail");
  }
}
