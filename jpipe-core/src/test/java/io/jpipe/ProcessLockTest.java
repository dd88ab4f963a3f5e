package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ProcessLock: the Lock contract in one JVM, across JVMs, and when a holder dies. */
class ProcessLockTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  @Test
  void aReentrantLockPassedBetweenThreadsKeepsEachHoldersCount() throws Exception {
    // The releasing thread once cleared the hold count after its unlock, wiping the count of the
    // thread that had just taken the lock: its inner unlock then freed the lock for good.
    try (ProcessLock lock = ProcessLock.createReentrant()) {
      int threads = 4;
      int rounds = 20_000;
      int[] inside = {0}; // guarded by the lock: a lost exclusion shows as a lost increment
      List<CompletableFuture<Object>> all = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        all.add(
            async(
                () -> {
                  for (int i = 0; i < rounds; i++) {
                    lock.lock();
                    lock.lock();
                    int seen = inside[0];
                    lock.unlock(); // the inner unlock: still held
                    inside[0] = seen + 1;
                    lock.unlock();
                  }
                  return null;
                }));
      }
      for (CompletableFuture<Object> f : all) {
        TestSupport.await(f);
      }
      lock.lock();
      try {
        assertEquals(threads * rounds, inside[0]);
      } finally {
        lock.unlock();
      }
    }
  }

  @Test
  void isAJavaLockOwnedByOneThreadAndNotReentrant() throws Exception {
    try (ProcessLock lock = ProcessLock.create()) {
      Lock asLock = lock;
      assertTrue(asLock.tryLock());
      assertFalse(lock.previousOwnerDied());
      assertFalse(lock.tryLock(), "not reentrant: tryLock by the holder fails");
      assertThrows(IllegalMonitorStateException.class, lock::lock);
      assertFalse(async(lock::tryLock).get(), "held by another thread");
      Throwable t =
          TestSupport.failureOf(
              async(
                  () -> {
                    lock.unlock();
                    return null;
                  }));
      assertInstanceOf(IllegalMonitorStateException.class, t, "only the holder unlocks");
      lock.unlock();
      assertThrows(IllegalMonitorStateException.class, lock::unlock);
      assertTrue(async(lock::tryLock).get());
      // the thread that took it has ended, holding it: the lock is recovered
      lock.lock();
      assertTrue(lock.previousOwnerDied(), "the holder thread ended without unlocking");
      lock.unlock();
      assertFalse(lock.previousOwnerDied());
      try (ProcessCondition c = lock.newCondition()) {
        assertSame(lock, c.lock(), "a condition of this lock (ProcessConditionTest tests it)");
      }
    }
  }

  @Test
  void waitsTimeOutAndAreInterruptible() throws Exception {
    try (ProcessLock lock = ProcessLock.create()) {
      lock.lock();
      long t0 = System.nanoTime();
      assertFalse(async(() -> lock.tryLock(200, TimeUnit.MILLISECONDS)).get());
      assertTrue(System.nanoTime() - t0 >= 199_000_000L, "waited the whole timeout");
      assertFalse(async(() -> lock.tryLock(Duration.ZERO)).get());

      AtomicReference<Thread> waiter = new AtomicReference<>();
      CompletableFuture<Object> interruptible =
          async(
              () -> {
                waiter.set(Thread.currentThread());
                lock.lockInterruptibly();
                return null;
              });
      TestSupport.eventually("waiter started", () -> waiter.get() != null);
      Thread.sleep(100);
      waiter.get().interrupt();
      assertInstanceOf(InterruptedException.class, TestSupport.failureOf(interruptible));

      CompletableFuture<Boolean> blocked =
          async(
              () -> {
                lock.lock();
                lock.unlock();
                return true;
              });
      Thread.sleep(100);
      assertFalse(blocked.isDone(), "lock() waits");
      lock.unlock();
      assertTrue(TestSupport.await(blocked));
    }
  }

  @Test
  void closedLocksAreRefused() throws Exception {
    ProcessLock lock = ProcessLock.create();
    lock.close();
    assertThrows(IllegalStateException.class, lock::tryLock);
    assertTrue(lock.toString().contains("closed"));
  }

  /** Child: locks, reports, then acts as told. */
  static void holder(ProcessLock lock, Connection ctl, String then) throws Exception {
    lock.lock();
    ctl.send("locked");
    switch (then) {
      case "unlock" -> {
        ctl.recv();
        lock.unlock();
        ctl.send("unlocked");
        try {
          ctl.recv(); // wait until released
        } catch (java.io.EOFException released) {
          // the parent closed its end
        }
      }
      case "exit" -> System.exit(3); // dies holding the lock
      default -> Thread.sleep(600_000); // killed holding the lock
    }
  }

  @Test
  void theLockWorksAcrossProcesses() throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessLockTest::holder, lock, ctl.conn2(), "unlock");
      p.start();
      assertEquals("locked", ctl.conn1().recv());
      assertFalse(lock.tryLock(), "held by the child");
      assertFalse(lock.tryLock(Duration.ofMillis(100)));
      ctl.conn1().send("go");
      assertEquals("unlocked", ctl.conn1().recv());
      assertTrue(lock.tryLock(Duration.ofSeconds(10)));
      assertFalse(lock.previousOwnerDied());
      lock.unlock();
      ctl.conn1().close();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void closingWhileHoldingReleasesTheLockForTheOtherProcesses() throws Exception {
    ProcessLock lock = ProcessLock.create();
    try (Pipe ctl = Pipe.open()) {
      lock.lock();
      ChildProcess p = ChildProcess.of(ProcessLockTest::holder, lock, ctl.conn2(), "unlock");
      p.start();
      assertFalse(ctl.conn1().poll(Duration.ofMillis(200)), "the child waits for the lock");
      lock.close(); // held by this thread: unlocked, then unmapped, without harm to this thread
      assertEquals("locked", ctl.conn1().recv());
      ctl.conn1().send("go");
      assertEquals("unlocked", ctl.conn1().recv());
      ctl.conn1().close();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
      assertThrows(IllegalStateException.class, lock::tryLock);
    }
    try (ProcessLock other = ProcessLock.create()) { // this thread's robust list is intact
      other.lock();
      other.unlock();
    }
  }

  @Test
  void closingWhileAnotherThreadHoldsLeavesThatThreadUnharmed() throws Exception {
    ProcessLock lock = ProcessLock.create();
    CompletableFuture<Void> locked = new CompletableFuture<>();
    CompletableFuture<Void> release = new CompletableFuture<>();
    CompletableFuture<Object> holderThread =
        async(
            () -> {
              lock.lock();
              locked.complete(null);
              release.get();
              try (ProcessLock other = ProcessLock.create()) {
                other.lock(); // writes this thread's robust list: the closed page is still there
                other.unlock();
              }
              return "fine";
            });
    TestSupport.await(locked);
    lock.close();
    release.complete(null);
    assertEquals("fine", TestSupport.await(holderThread));
  }

  @Test
  void anEndlessTimedWaitIsStillInterruptible() throws Exception {
    try (ProcessLock lock = ProcessLock.create()) {
      lock.lock();
      AtomicReference<Thread> waiter = new AtomicReference<>();
      CompletableFuture<Boolean> forever =
          async(
              () -> {
                waiter.set(Thread.currentThread());
                return lock.tryLock(Long.MAX_VALUE, TimeUnit.DAYS);
              });
      TestSupport.eventually("waiter started", () -> waiter.get() != null);
      Thread.sleep(200);
      assertFalse(forever.isDone(), "Long.MAX_VALUE days is not an overflow into the past");
      waiter.get().interrupt();
      assertInstanceOf(InterruptedException.class, TestSupport.failureOf(forever));
      lock.unlock();
    }
  }

  @Test
  void aHolderThatExitsDoesNotDeadlockTheOthers() throws Exception {
    recoverFrom("exit", 3);
  }

  @Test
  void aHolderKilledBySigkillDoesNotDeadlockTheOthers() throws Exception {
    recoverFrom("sleep", -9);
  }

  private void recoverFrom(String how, int exitCode) throws Exception {
    try (ProcessLock lock = ProcessLock.create();
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessLockTest::holder, lock, ctl.conn2(), how);
      p.start();
      assertEquals("locked", ctl.conn1().recv());
      if (exitCode == -9) {
        p.kill();
      }
      p.join();
      assertEquals(exitCode, p.exitCode().orElseThrow());
      assertTrue(lock.tryLock(Duration.ofSeconds(10)), "the lock is not stuck");
      assertTrue(lock.previousOwnerDied(), "and we are told its holder died");
      lock.unlock();
      assertFalse(lock.previousOwnerDied());
      lock.lock(); // a normal lock again
      assertFalse(lock.previousOwnerDied());
      lock.unlock();
    }
  }
}
