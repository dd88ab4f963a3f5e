package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.sync.SharedCells;
import io.jpipe.internal.sync.SharedWord;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * ProcessSemaphore: CPython's {@code _TestSemaphore} cases that apply, child JVMs taking and giving
 * permits, and what a process that dies holding or waiting does.
 */
class ProcessSemaphoreTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  private static void countDown(ProcessSemaphore sem) throws InterruptedException {
    assertEquals(2, sem.availablePermits());
    sem.acquire();
    assertEquals(1, sem.availablePermits());
    assertTrue(sem.tryAcquire(Duration.ofSeconds(1)));
    assertEquals(0, sem.availablePermits());
    assertFalse(sem.tryAcquire());
    assertEquals(0, sem.availablePermits());
    sem.release();
    assertEquals(1, sem.availablePermits());
    sem.release();
    assertEquals(2, sem.availablePermits());
  }

  // _TestSemaphore.test_semaphore
  @Test
  void countsPermits() throws Exception {
    try (ProcessSemaphore sem = ProcessSemaphore.create(2)) {
      assertFalse(sem.isBounded());
      countDown(sem);
      sem.release(); // not bounded: a third
      assertEquals(3, sem.availablePermits());
      assertEquals("ProcessSemaphore[permits=3]", sem.toString());
    }
  }

  // _TestSemaphore.test_bounded_semaphore
  @Test
  void aBoundedSemaphoreRefusesAReleaseOverItsBound() throws Exception {
    try (ProcessSemaphore sem = ProcessSemaphore.createBounded(2)) {
      assertTrue(sem.isBounded());
      countDown(sem);
      assertThrows(IllegalStateException.class, sem::release, "CPython: ValueError");
      assertEquals(2, sem.availablePermits(), "and nothing changed");
      sem.acquire();
      sem.release(); // below the bound again: fine
    }
    assertThrows(IllegalArgumentException.class, () -> ProcessSemaphore.create(-1));
  }

  // _TestSemaphore.test_timeout
  @Test
  void timedAcquiresTimeOutAndWaitsAreInterruptible() throws Exception {
    try (ProcessSemaphore sem = ProcessSemaphore.create(0)) {
      assertFalse(sem.tryAcquire());
      assertFalse(sem.tryAcquire(0, TimeUnit.SECONDS));
      long t0 = System.nanoTime();
      assertFalse(sem.tryAcquire(100, TimeUnit.MILLISECONDS));
      assertTrue(System.nanoTime() - t0 >= 99_000_000L, "waited the whole timeout");
      Thread[] waiter = new Thread[1];
      CompletableFuture<Object> f =
          async(
              Thread.ofPlatform(),
              () -> {
                sem.acquire();
                return null;
              },
              waiter);
      TestSupport.awaitBlocked(waiter[0]);
      waiter[0].interrupt();
      assertTrue(TestSupport.failureOf(f) instanceof InterruptedException);
      assertEquals(0, sem.availablePermits(), "an interrupted wait takes nothing");
    }
  }

  /** Child: takes {@code n} permits (waiting for each), reports, gives them back when told. */
  static void taker(ProcessSemaphore sem, Integer n, Connection ctl) throws Exception {
    for (int i = 0; i < n; i++) {
      sem.acquire();
    }
    ctl.send("took " + n);
    if (ctl.recv().equals("release")) {
      for (int i = 0; i < n; i++) {
        sem.release();
      }
      ctl.send("released");
    }
  }

  /** Child: says it is about to wait, then waits for a permit (and is killed waiting). */
  static void waitingTaker(ProcessSemaphore sem, Connection ctl) throws Exception {
    ctl.send("waiting");
    sem.acquire();
    ctl.send("took 1");
  }

  // _TestSemaphore.test_semaphore across processes: a child waits for permits the parent gives
  @Test
  void aChildWaitsForPermitsTheParentGives() throws Exception {
    try (ProcessSemaphore sem = ProcessSemaphore.create(1);
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessSemaphoreTest::taker, sem, 3, ctl.conn2());
      p.start();
      sem.release();
      sem.release(); // the child can now take its three
      assertEquals("took 3", ctl.conn1().recv());
      assertEquals(0, sem.availablePermits());
      CompletableFuture<Boolean> mine = async(() -> sem.tryAcquire(60, TimeUnit.SECONDS));
      ctl.conn1().send("release");
      assertEquals("released", ctl.conn1().recv());
      assertTrue(TestSupport.await(mine), "a waiter here gets a permit the child gave back");
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
      assertEquals(2, sem.availablePermits());
    }
  }

  // permits held by a process killed by SIGKILL are lost; a killed waiter takes nothing
  @Test
  void aPermitHeldByAKilledProcessIsLostAndAKilledWaiterTakesNothing() throws Exception {
    try (ProcessSemaphore sem = ProcessSemaphore.createBounded(2);
        Pipe ctl = Pipe.open()) {
      ChildProcess holder = ChildProcess.of(ProcessSemaphoreTest::taker, sem, 1, ctl.conn2());
      holder.start();
      assertEquals("took 1", ctl.conn1().recv());
      holder.kill();
      holder.join();
      assertEquals(-9, holder.exitCode().orElseThrow());
      assertEquals(1, sem.availablePermits(), "the dead holder's permit is lost");
      sem.acquire(); // the other permit still works
      // a child that waits for a permit is killed while waiting
      ChildProcess waiter = ChildProcess.of(ProcessSemaphoreTest::waitingTaker, sem, ctl.conn2());
      waiter.start();
      CompletableFuture<Boolean> mine = async(() -> sem.tryAcquire(60, TimeUnit.SECONDS));
      assertEquals("waiting", ctl.conn1().recv());
      waiter.kill();
      waiter.join();
      sem.release(); // only the live waiter can take it
      assertTrue(TestSupport.await(mine));
      assertEquals(0, sem.availablePermits());
      sem.release();
      sem.release(); // restores what the dead holder took: the bound is reached again
      assertThrows(IllegalStateException.class, sem::release);
    }
  }

  /**
   * Closed in this process while a platform and a virtual thread wait: both get the documented
   * {@link IllegalStateException} ("closed in this process"), and the shared count of sleepers is
   * taken back (another handle of the same memory sees 0), so later releases wake nobody for
   * nothing.
   */
  @Test
  void closeUnderWaitersTellsThemAndLeavesNoSleeperCounted() throws Exception {
    SharedCells memory = SharedCells.create(ProcessSemaphore.BYTES);
    new SharedWord(memory.segment(), 8).set(-1); // unbounded, no permits
    ProcessSemaphore other = new ProcessSemaphore(memory);
    ProcessSemaphore closing =
        new ProcessSemaphore(SharedCells.attach(memory.lock(), ProcessSemaphore.BYTES));
    try {
      Callable<Boolean> take =
          () -> {
            closing.acquire();
            return true;
          };
      CompletableFuture<Boolean> platform = async(take);
      CompletableFuture<Boolean> virtual = async(Thread.ofVirtual(), take, new Thread[1]);
      TestSupport.eventually("both threads sleep", () -> other.sleepers() == 2);
      closing.close();
      for (CompletableFuture<Boolean> waiter : List.of(platform, virtual)) {
        Throwable e = TestSupport.failureOf(waiter);
        assertInstanceOf(IllegalStateException.class, e);
        assertEquals("closed in this process", e.getMessage());
      }
      assertEquals(0, other.sleepers());
      other.release();
      assertTrue(other.tryAcquire());
    } finally {
      closing.close();
      memory.close();
    }
  }
}
