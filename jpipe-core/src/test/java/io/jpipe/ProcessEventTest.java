package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ProcessEvent: CPython's {@code _TestEvent} with a child JVM, and a waiter that dies. */
class ProcessEventTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** Child: sets the event once told to. */
  static void setter(ProcessEvent event, Connection ctl) throws Exception {
    ctl.recv();
    event.set();
  }

  /** Child: waits for the event, reports what the wait returned. */
  static void waiter(ProcessEvent event, Connection ctl) throws Exception {
    ctl.send("waiting");
    ctl.send(event.await(60, TimeUnit.SECONDS));
  }

  // _TestEvent.test_event
  @Test
  void waitsSeeTheEventSetByAnotherProcess() throws Exception {
    try (ProcessEvent event = ProcessEvent.create();
        Pipe ctl = Pipe.open()) {
      assertFalse(event.isSet());
      assertFalse(event.await(0, TimeUnit.SECONDS));
      long t0 = System.nanoTime();
      assertFalse(event.await(Duration.ofMillis(100)));
      assertTrue(System.nanoTime() - t0 >= 99_000_000L, "waited the whole timeout");
      event.set();
      assertTrue(event.isSet());
      assertTrue(event.await(0, TimeUnit.SECONDS));
      event.await();
      event.set(); // again: still set
      event.clear();
      assertFalse(event.isSet());
      event.clear();
      assertFalse(event.await(Duration.ZERO));
      assertEquals("ProcessEvent[clear]", event.toString());
      ChildProcess p = ChildProcess.of(ProcessEventTest::setter, event, ctl.conn2());
      p.start();
      ctl.conn1().send("set it");
      assertTrue(event.await(60, TimeUnit.SECONDS), "set by the child");
      assertTrue(event.isSet());
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
      event.clear();
      ChildProcess w = ChildProcess.of(ProcessEventTest::waiter, event, ctl.conn2());
      w.start();
      assertEquals("waiting", ctl.conn1().recv());
      event.set();
      assertEquals(true, ctl.conn1().recv(), "the child's wait ends true");
      w.join();
      Thread.currentThread().interrupt();
      assertThrows(InterruptedException.class, event::await);
    }
  }

  // (beyond CPython) a set cleared at once still ends the waits that were waiting: none misses it
  @Test
  void aWaiterSeesASetThatWasClearedAtOnce() throws Exception {
    try (ProcessEvent event = ProcessEvent.create()) {
      for (Thread.Builder kind : List.of(Thread.ofPlatform(), Thread.ofVirtual())) {
        Thread[] waiter = new Thread[1];
        CompletableFuture<Boolean> r =
            TestSupport.async(kind, () -> event.await(60, TimeUnit.SECONDS), waiter);
        inSharedWordAwait(waiter[0]); // it has read the word: the set and clear come after
        event.set();
        event.clear();
        assertTrue(TestSupport.await(r), "the set happened during the wait");
        assertFalse(event.isSet());
      }
    }
  }

  private static void inSharedWordAwait(Thread t) throws InterruptedException {
    TestSupport.eventually(
        t + " in SharedWord.await",
        () ->
            java.util.Arrays.stream(t.getStackTrace())
                .anyMatch(
                    e ->
                        e.getClassName().equals("io.jpipe.internal.sync.SharedWord")
                            && e.getMethodName().startsWith("await")));
  }

  // a waiter killed by SIGKILL, and a setter that dies before setting: the others go on
  @Test
  void aKilledWaiterOrSetterLeavesTheFlagAsItWas() throws Exception {
    try (ProcessEvent event = ProcessEvent.create();
        Pipe ctl = Pipe.open()) {
      ChildProcess w = ChildProcess.of(ProcessEventTest::waiter, event, ctl.conn2());
      w.start();
      assertEquals("waiting", ctl.conn1().recv());
      w.kill();
      w.join();
      assertEquals(-9, w.exitCode().orElseThrow());
      assertFalse(event.isSet());
      ChildProcess s = ChildProcess.of(ProcessEventTest::setter, event, ctl.conn2());
      s.start();
      s.kill(); // before it was told to set
      s.join();
      assertFalse(event.await(50, TimeUnit.MILLISECONDS), "nobody set it: the wait times out");
      event.set();
      assertTrue(event.await(60, TimeUnit.SECONDS));
    }
  }
}
