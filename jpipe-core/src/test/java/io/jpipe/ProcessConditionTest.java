package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The reentrant ProcessLock (CPython's RLock) and ProcessCondition: CPython's {@code _TestLock},
 * {@code _TestRLock} and {@code _TestCondition} cases that apply, with child JVMs, and waiters that
 * die.
 */
class ProcessConditionTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  // _TestLock.test_rlock
  @Test
  void aReentrantLockIsTakenAgainByItsHolderOnly() throws Exception {
    try (ProcessLock lock = ProcessLock.createReentrant()) {
      assertTrue(lock.isReentrant());
      assertFalse(lock.isHeldByCurrentThread());
      lock.lock();
      assertTrue(lock.tryLock());
      assertTrue(lock.tryLock(Duration.ofMillis(10)));
      assertTrue(lock.isHeldByCurrentThread());
      assertFalse(async(lock::tryLock).get(), "held by another thread");
      lock.unlock();
      lock.unlock();
      assertFalse(async(lock::tryLock).get(), "still held once");
      lock.unlock();
      assertFalse(lock.isHeldByCurrentThread());
      assertThrows(IllegalMonitorStateException.class, lock::unlock, "released too many times");
      assertTrue(async(() -> lock.tryLock(Duration.ofSeconds(10))).get(), "free again");
      lock.lock(); // the other thread ended holding it
      assertTrue(lock.previousOwnerDied());
      lock.unlock();
    }
    try (ProcessLock plain = ProcessLock.create()) {
      assertFalse(plain.isReentrant(), "CPython's Lock is not reentrant");
    }
  }

  /** Child: takes the reentrant lock twice, and reports. */
  static void reenter(ProcessLock lock, Connection ctl) throws Exception {
    lock.lock();
    lock.lock();
    ctl.send(lock.isReentrant() + " " + lock.isHeldByCurrentThread());
    ctl.recv();
    lock.unlock();
    ctl.send("once");
    ctl.recv();
    lock.unlock();
    ctl.send("free");
  }

  // _TestLock.test_rlock, across processes: the child gets a reentrant lock
  @Test
  void aChildGetsTheLockReentrant() throws Exception {
    try (ProcessLock lock = ProcessLock.createReentrant();
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessConditionTest::reenter, lock, ctl.conn2());
      p.start();
      assertEquals("true true", ctl.conn1().recv());
      ctl.conn1().send("go");
      assertEquals("once", ctl.conn1().recv());
      assertFalse(lock.tryLock(), "held once more by the child");
      ctl.conn1().send("go");
      assertEquals("free", ctl.conn1().recv());
      assertTrue(lock.tryLock(Duration.ofSeconds(30)));
      lock.unlock();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  /**
   * Child: {@code spec} is "threads timeout": that many threads each wait on the condition (with a
   * timeout in ms, or none if negative), counting in {@code sleeping} before and in {@code woken}
   * after.
   */
  static void waiters(
      ProcessCondition cond, ProcessSemaphore sleeping, SharedInt woken, String spec)
      throws Exception {
    ProcessLock lock = cond.lock();
    int threads = Integer.parseInt(spec.split(" ")[0]);
    int timeoutMillis = Integer.parseInt(spec.split(" ")[1]);
    List<Thread> all = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      all.add(
          Thread.ofPlatform().start(() -> waitOnce(lock, cond, sleeping, woken, timeoutMillis)));
    }
    for (Thread t : all) {
      t.join();
    }
  }

  private static void waitOnce(
      ProcessLock lock,
      Condition cond,
      ProcessSemaphore sleeping,
      SharedInt woken,
      int timeoutMillis) {
    lock.lock();
    try {
      sleeping.release();
      if (timeoutMillis < 0) {
        cond.await();
      } else {
        cond.await(timeoutMillis, TimeUnit.MILLISECONDS);
      }
      woken.incrementAndGet();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    } finally {
      lock.unlock();
    }
  }

  private static void signalHolding(ProcessLock lock, Runnable signal) {
    lock.lock();
    try {
      signal.run();
    } finally {
      lock.unlock();
    }
  }

  // _TestCondition.test_notify: a child process and a thread wait; each notify wakes one
  @Test
  void signalWakesOneWaiterOfAnyProcess() throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        ProcessCondition cond = lock.newCondition();
        ProcessSemaphore sleeping = ProcessSemaphore.create(0);
        SharedInt woken = SharedInt.create(0)) {
      ChildProcess p =
          ChildProcess.of(ProcessConditionTest::waiters, cond, sleeping, woken, "1 -1");
      p.start();
      CompletableFuture<Void> t =
          async(
              () -> {
                waitOnce(lock, cond, sleeping, woken, -1);
                return null;
              });
      sleeping.acquire();
      sleeping.acquire();
      // both counted themselves holding the lock, so both wait once we hold it
      assertEquals(0, woken.get());
      signalHolding(lock, cond::signal);
      TestSupport.eventually("one woken", () -> woken.get() >= 1);
      Thread.sleep(100); // time for a wrong second wake-up to show
      assertEquals(1, woken.get(), "one signal wakes one waiter");
      signalHolding(lock, cond::signal);
      TestSupport.eventually("both woken", () -> woken.get() == 2);
      p.join();
      TestSupport.await(t);
      assertEquals(0, p.exitCode().orElseThrow());
      signalHolding(lock, cond::signal); // nobody waits: nothing happens, nothing is kept
    }
  }

  // _TestCondition.test_notify_all: waiters that time out, then waiters that all wake on one call
  @Test
  void signalAllWakesEveryWaiterOfEveryProcess() throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        ProcessCondition cond = lock.newCondition();
        ProcessSemaphore sleeping = ProcessSemaphore.create(0);
        SharedInt woken = SharedInt.create(0)) {
      // waiters with a timeout: they wake by themselves
      ChildProcess timed =
          ChildProcess.of(ProcessConditionTest::waiters, cond, sleeping, woken, "2 100");
      timed.start();
      timed.join();
      assertEquals(0, timed.exitCode().orElseThrow());
      assertEquals(2, woken.get());
      sleeping.acquire();
      sleeping.acquire();
      woken.set(0);
      ChildProcess p =
          ChildProcess.of(ProcessConditionTest::waiters, cond, sleeping, woken, "2 -1");
      p.start();
      CompletableFuture<Void> t =
          async(
              () -> {
                waitOnce(lock, cond, sleeping, woken, -1);
                return null;
              });
      for (int i = 0; i < 3; i++) {
        sleeping.acquire();
      }
      assertEquals(0, woken.get());
      signalHolding(lock, cond::signalAll);
      TestSupport.eventually("all woken", () -> woken.get() == 3);
      p.join();
      TestSupport.await(t);
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  // _TestCondition.test_timeout and test_wait_result
  @Test
  void waitsTimeOutOrReportASignalAndNeedTheLock() throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        ProcessCondition cond = lock.newCondition()) {
      assertThrows(IllegalMonitorStateException.class, cond::await, "the lock is not held");
      assertThrows(IllegalMonitorStateException.class, cond::signal);
      assertThrows(IllegalMonitorStateException.class, cond::signalAll);
      lock.lock();
      try {
        long t0 = System.nanoTime();
        assertFalse(cond.await(100, TimeUnit.MILLISECONDS), "timed out: false");
        assertTrue(System.nanoTime() - t0 >= 99_000_000L, "waited the whole timeout");
        assertTrue(lock.isHeldByCurrentThread(), "held again after the wait");
        assertTrue(cond.awaitNanos(1_000_000) <= 0);
        assertFalse(cond.await(Duration.ZERO));
        assertFalse(cond.awaitUntil(new java.util.Date(System.currentTimeMillis() - 1)));
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, cond::await);
        assertTrue(lock.isHeldByCurrentThread());
      } finally {
        lock.unlock();
      }
      // a signalled wait says so: true, and time left
      Thread[] waiter = new Thread[1];
      CompletableFuture<Boolean> r =
          async(
              Thread.ofPlatform(),
              () -> {
                lock.lock();
                try {
                  return cond.await(60, TimeUnit.SECONDS);
                } finally {
                  lock.unlock();
                }
              },
              waiter);
      TestSupport.awaitBlocked(waiter[0]);
      TestSupport.eventually("the waiter waits", () -> lock.tryLock() && unlockTrue(lock));
      signalUntil(lock, cond, r);
      assertTrue(TestSupport.await(r), "signalled: true");
      // an interrupt ends a wait, with the lock held again
      CompletableFuture<Boolean> i =
          async(
              Thread.ofPlatform(),
              () -> {
                lock.lock();
                try {
                  cond.await();
                  return false;
                } catch (InterruptedException e) {
                  return lock.isHeldByCurrentThread();
                } finally {
                  lock.unlock();
                }
              },
              waiter);
      TestSupport.awaitBlocked(waiter[0]);
      waiter[0].interrupt();
      assertTrue(TestSupport.await(i));
    }
  }

  private static boolean unlockTrue(ProcessLock lock) {
    lock.unlock();
    return true;
  }

  /** Signals until {@code done}: the waiter may not be waiting yet at the first signal. */
  private static void signalUntil(ProcessLock lock, Condition cond, CompletableFuture<?> done)
      throws InterruptedException {
    while (!done.isDone()) {
      signalHolding(lock, cond::signal);
      Thread.sleep(10);
    }
  }

  /** Child: waits until the shared state reaches 4 (CPython's wait_for), then reports it. */
  static void waitFor(ProcessLock lock, ProcessCondition cond, SharedInt state, Connection ctl)
      throws Exception {
    lock.lock();
    try {
      ctl.send("waiting");
      while (state.get() != 4) {
        cond.await();
      }
      ctl.send(state.get());
    } finally {
      lock.unlock();
    }
  }

  // _TestCondition.test_waitfor
  @Test
  void aChildWaitsForAPredicate() throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        ProcessCondition cond = lock.newCondition();
        SharedInt state = SharedInt.create(0);
        Pipe ctl = Pipe.open()) {
      ChildProcess p =
          ChildProcess.of(ProcessConditionTest::waitFor, lock, cond, state, ctl.conn2());
      p.start();
      assertEquals("waiting", ctl.conn1().recv());
      for (int i = 0; i < 4; i++) {
        lock.lock();
        try {
          state.incrementAndGet();
          cond.signal();
        } finally {
          lock.unlock();
        }
      }
      assertEquals(4, ctl.conn1().recv());
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  // (RLock with Condition, as CPython's Condition(RLock())): a wait releases every hold
  @Test
  void aWaitReleasesAReentrantLockFullyAndTakesItBackAsOften() throws Exception {
    try (ProcessLock lock = ProcessLock.createReentrant();
        ProcessCondition cond = lock.newCondition()) {
      Thread[] waiter = new Thread[1];
      CompletableFuture<Boolean> r =
          async(
              Thread.ofPlatform(),
              () -> {
                lock.lock();
                lock.lock();
                lock.lock();
                try {
                  cond.await();
                  lock.unlock();
                  lock.unlock();
                  return lock.isHeldByCurrentThread();
                } finally {
                  lock.unlock();
                }
              },
              waiter);
      TestSupport.awaitBlocked(waiter[0]);
      assertTrue(lock.tryLock(Duration.ofSeconds(30)), "free while the holder waits");
      lock.unlock();
      signalUntil(lock, cond, r);
      assertTrue(TestSupport.await(r), "three holds after the wait");
      assertTrue(lock.tryLock(), "and free after three unlocks");
      lock.unlock();
    }
  }

  /** Child: waits on the condition, after saying so; never woken (it is killed). */
  static void waitForever(ProcessLock lock, ProcessCondition cond, Connection ctl)
      throws Exception {
    lock.lock();
    ctl.send("waiting");
    cond.awaitUninterruptibly();
  }

  /** Child: takes the lock and is killed holding it. */
  static void holdForever(ProcessLock lock, Connection ctl) throws Exception {
    lock.lock();
    ctl.send("holding");
    Thread.sleep(600_000);
  }

  // a waiter killed by SIGKILL, and a holder killed by SIGKILL, do not stop the others
  @Test
  void waitersAndHoldersThatDieDoNotStopTheOthers() throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        ProcessCondition cond = lock.newCondition();
        ProcessSemaphore sleeping = ProcessSemaphore.create(0);
        SharedInt woken = SharedInt.create(0);
        Pipe ctl = Pipe.open()) {
      ChildProcess dead =
          ChildProcess.of(ProcessConditionTest::waitForever, lock, cond, ctl.conn2());
      dead.start();
      assertEquals("waiting", ctl.conn1().recv());
      lock.lock(); // the child waits: it released the lock
      lock.unlock();
      dead.kill();
      dead.join();
      assertEquals(-9, dead.exitCode().orElseThrow());
      // a live waiter is still woken, by signalAll and by signals
      CompletableFuture<Void> t =
          async(
              () -> {
                waitOnce(lock, cond, sleeping, woken, -1);
                return null;
              });
      sleeping.acquire();
      signalHolding(lock, cond::signalAll);
      TestSupport.await(t);
      assertEquals(1, woken.get());
      Thread[] waiter = new Thread[1];
      CompletableFuture<Boolean> r =
          async(
              Thread.ofPlatform(),
              () -> {
                lock.lock();
                try {
                  return cond.await(60, TimeUnit.SECONDS);
                } finally {
                  lock.unlock();
                }
              },
              waiter);
      TestSupport.awaitBlocked(waiter[0]);
      signalUntil(lock, cond, r);
      assertTrue(TestSupport.await(r));
      // a holder killed: the lock comes back, said so, and the condition still works
      ChildProcess holder = ChildProcess.of(ProcessConditionTest::holdForever, lock, ctl.conn2());
      holder.start();
      assertEquals("holding", ctl.conn1().recv());
      holder.kill();
      holder.join();
      assertTrue(lock.tryLock(Duration.ofSeconds(30)));
      try {
        assertTrue(lock.previousOwnerDied());
        assertFalse(cond.await(10, TimeUnit.MILLISECONDS));
      } finally {
        lock.unlock();
      }
    }
  }

  @Test
  void aClosedConditionRefusesWaits() throws Exception {
    try (ProcessLock lock = ProcessLock.create()) {
      ProcessCondition cond = lock.newCondition();
      assertTrue(cond.toString().startsWith("ProcessCondition["));
      cond.close();
      cond.close();
      lock.lock();
      try {
        Throwable e = assertThrows(RuntimeException.class, cond::await);
        assertInstanceOf(IllegalStateException.class, e);
        assertTrue(lock.isHeldByCurrentThread(), "held again after the failed wait");
      } finally {
        lock.unlock();
      }
    }
  }
}
