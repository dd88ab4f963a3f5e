package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.NotSerializableException;
import java.io.Serial;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * ProcessBarrier: CPython's {@code _TestBarrier} cases that apply, with parties in child JVMs, and
 * parties that die waiting or inside the barrier.
 */
class ProcessBarrierTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** An action that counts its runs in shared memory, in whichever process runs it. */
  static final class Count implements Runnable, Serializable {
    @Serial private static final long serialVersionUID = 1L;

    private final SharedInt runs;

    Count(SharedInt runs) {
      this.runs = runs;
    }

    @Override
    public void run() {
      runs.incrementAndGet();
    }
  }

  /**
   * One party's rounds: counts itself in {@code before}, waits, and checks that every party of the
   * round had counted itself (CPython's multipass check).
   */
  static List<Integer> rounds(ProcessBarrier b, SharedInt before, int rounds) throws Exception {
    List<Integer> indexes = new ArrayList<>();
    int n = b.getParties();
    for (int r = 0; r < rounds; r++) {
      before.incrementAndGet();
      indexes.add(b.await(60, TimeUnit.SECONDS));
      int seen = before.get();
      if (seen < (r + 1) * n || seen >= (r + 2) * n) {
        throw new AssertionError("round " + r + ": " + seen + " arrivals counted");
      }
    }
    return indexes;
  }

  /** Child: {@code threads} parties, each doing {@code rounds} rounds. */
  static void parties(ProcessBarrier b, SharedInt before, Integer threads, Integer rounds)
      throws Exception {
    List<CompletableFuture<List<Integer>>> all = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      all.add(async(() -> rounds(b, before, rounds)));
    }
    for (CompletableFuture<List<Integer>> f : all) {
      TestSupport.await(f);
    }
  }

  // _TestBarrier.test_barrier and test_action: 4 parties (2 in a child JVM), 3 rounds
  @Test
  void partiesOfTwoProcessesPassRoundAfterRoundAndTheActionRunsOncePerRound() throws Exception {
    try (SharedInt runs = SharedInt.create(0);
        SharedInt before = SharedInt.create(0);
        ProcessBarrier b = ProcessBarrier.create(4, new Count(runs))) {
      assertEquals(4, b.getParties());
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::parties, b, before, 2, 3);
      p.start();
      CompletableFuture<List<Integer>> t1 = async(() -> rounds(b, before, 3));
      List<Integer> mine = rounds(b, before, 3);
      List<Integer> theirs = TestSupport.await(t1);
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
      assertEquals(3, runs.get(), "the action ran once per round");
      assertEquals(12, before.get());
      for (int r = 0; r < 3; r++) {
        assertTrue(mine.get(r) >= 0 && mine.get(r) < 4);
        assertTrue(!mine.get(r).equals(theirs.get(r)), "each party has its own arrival index");
      }
      assertFalse(b.isBroken());
      assertEquals(0, b.getNumberWaiting());
    }
  }

  // _TestBarrier.test_single_thread and test_thousand (one party, many rounds)
  @Test
  void oneParty() throws Exception {
    try (SharedInt runs = SharedInt.create(0);
        ProcessBarrier b = ProcessBarrier.create(1, new Count(runs))) {
      for (int i = 0; i < 1000; i++) {
        assertEquals(0, b.await(), "the last (and first) to arrive has index 0");
      }
      assertEquals(1000, runs.get());
    }
    assertThrows(IllegalArgumentException.class, () -> ProcessBarrier.create(0));
  }

  // _TestBarrier.test_timeout (and test_abort's broken state): a timeout breaks the barrier
  @Test
  void aTimeoutBreaksTheBarrierUntilReset() throws Exception {
    try (ProcessBarrier b = ProcessBarrier.create(2)) {
      long t0 = System.nanoTime();
      assertThrows(TimeoutException.class, () -> b.await(100, TimeUnit.MILLISECONDS));
      assertTrue(System.nanoTime() - t0 >= 99_000_000L, "waited the whole timeout");
      assertTrue(b.isBroken());
      assertThrows(BrokenBarrierException.class, b::await, "broken until reset");
      assertTrue(b.toString().contains("broken"));
      b.reset();
      assertFalse(b.isBroken());
      CompletableFuture<Integer> other = async(() -> b.await(Duration.ofSeconds(60)));
      assertTrue(b.await(60, TimeUnit.SECONDS) >= 0, "a round works after the reset");
      assertTrue(TestSupport.await(other) >= 0);
    }
  }

  /** Child: one party that reports how its wait ended. */
  static void report(ProcessBarrier b, Connection ctl) throws IOException {
    String how;
    try {
      how = "index " + b.await(60, TimeUnit.SECONDS);
    } catch (BrokenBarrierException | TimeoutException | InterruptedException e) {
      how = e.getClass().getSimpleName();
    }
    ctl.send(how);
  }

  private static void awaitWaiting(ProcessBarrier b, int n) throws InterruptedException {
    TestSupport.eventually(n + " waiting", () -> b.getNumberWaiting() == n);
  }

  // _TestBarrier.test_reset: waiters in two processes get BrokenBarrierException, then it works
  @Test
  void resetBreaksTheWaitersOfEveryProcess() throws Exception {
    try (ProcessBarrier b = ProcessBarrier.create(3);
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::report, b, ctl.conn2());
      p.start();
      CompletableFuture<Integer> t = async(() -> b.await(60, TimeUnit.SECONDS));
      awaitWaiting(b, 2);
      b.reset();
      assertEquals("BrokenBarrierException", ctl.conn1().recv());
      assertInstanceOf(BrokenBarrierException.class, TestSupport.failureOf(t));
      assertFalse(b.isBroken(), "reset: ready again");
      assertEquals(0, b.getNumberWaiting());
      p.join();
      // a new round of three works
      Set<Integer> indexes = new HashSet<>();
      List<CompletableFuture<Integer>> two = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        two.add(async(() -> b.await(60, TimeUnit.SECONDS)));
      }
      indexes.add(b.await(60, TimeUnit.SECONDS));
      for (CompletableFuture<Integer> f : two) {
        indexes.add(TestSupport.await(f));
      }
      assertEquals(Set.of(0, 1, 2), indexes);
    }
  }

  // _TestBarrier.test_abort, with an interrupt: the interrupted party throws, the others break
  @Test
  void anInterruptedPartyBreaksTheBarrierForTheOthers() throws Exception {
    try (ProcessBarrier b = ProcessBarrier.create(3);
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::report, b, ctl.conn2());
      p.start();
      Thread[] waiter = new Thread[1];
      CompletableFuture<Integer> t = async(Thread.ofPlatform(), b::await, waiter);
      awaitWaiting(b, 2);
      waiter[0].interrupt();
      assertInstanceOf(InterruptedException.class, TestSupport.failureOf(t));
      assertEquals("BrokenBarrierException", ctl.conn1().recv());
      assertTrue(b.isBroken());
      p.join();
    }
  }

  /** An action that throws: the barrier breaks. */
  static final class Fail implements Runnable, Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Override
    public void run() {
      throw new IllegalStateException("action failed");
    }
  }

  // _TestBarrier.test_action with a failing action (CPython: the barrier breaks)
  @Test
  void anActionThatThrowsBreaksTheBarrier() throws Exception {
    try (ProcessBarrier b = ProcessBarrier.create(2, new Fail());
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::report, b, ctl.conn2());
      p.start();
      awaitWaiting(b, 1);
      assertThrows(IllegalStateException.class, b::await, "the last party gets the exception");
      assertEquals("BrokenBarrierException", ctl.conn1().recv());
      assertTrue(b.isBroken());
      p.join();
    }
    ProcessBarrier local = ProcessBarrier.create(2, () -> {});
    try (Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::report, local, ctl.conn2());
      Throwable e = assertThrows(Exception.class, p::start, "a lambda action cannot go");
      assertTrue(hasCause(e, NotSerializableException.class), e.toString());
    } finally {
      local.close();
    }
  }

  private static boolean hasCause(Throwable e, Class<?> c) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (c.isInstance(t)) {
        return true;
      }
    }
    return false;
  }

  // a party killed by SIGKILL while waiting still counts: the others trip the barrier
  @Test
  void aPartyKilledWhileWaitingCountsAsArrived() throws Exception {
    try (ProcessBarrier b = ProcessBarrier.create(3);
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::report, b, ctl.conn2());
      p.start();
      awaitWaiting(b, 1);
      b.lock().lock(); // the child has counted itself and left the bookkeeping: it sleeps
      b.lock().unlock();
      p.kill();
      p.join();
      assertEquals(-9, p.exitCode().orElseThrow());
      CompletableFuture<Integer> t = async(() -> b.await(60, TimeUnit.SECONDS));
      int mine = b.await(60, TimeUnit.SECONDS);
      assertEquals(Set.of(0, 1), Set.of(mine, TestSupport.await(t)));
      assertFalse(b.isBroken());
    }
  }

  /** An action that says it runs, then hangs (its process is killed running it). */
  static final class Hang implements Runnable, Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // goes to the child process as its connection
    private final Connection ctl;

    Hang(Connection ctl) {
      this.ctl = ctl;
    }

    @Override
    public void run() {
      try {
        ctl.send("in action");
        Thread.sleep(600_000);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  // a party killed by SIGKILL inside the barrier (running the action, holding its lock) breaks it
  @Test
  void aPartyKilledInsideTheBarrierBreaksIt() throws Exception {
    try (Pipe ctl = Pipe.open();
        ProcessBarrier b = ProcessBarrier.create(2, new Hang(ctl.conn2()))) {
      CompletableFuture<Integer> first = async(() -> b.await(60, TimeUnit.SECONDS));
      awaitWaiting(b, 1);
      ChildProcess p = ChildProcess.of(ProcessBarrierTest::report, b, ctl.conn2());
      p.start();
      assertEquals("in action", ctl.conn1().recv());
      p.kill();
      p.join();
      assertThrows(BrokenBarrierException.class, b::await, "the next party finds it broken");
      assertInstanceOf(BrokenBarrierException.class, TestSupport.failureOf(first));
      assertTrue(b.isBroken());
      b.reset();
      assertFalse(b.isBroken());
    }
  }
}
