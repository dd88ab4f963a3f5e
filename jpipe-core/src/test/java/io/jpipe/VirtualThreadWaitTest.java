package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Blocking calls on virtual threads: they park (see {@link VirtualThreadsParkTest} for the
 * one-carrier proof), and close, interrupt and deadlines end them with the same exceptions as on
 * platform threads, at once. Wake-up latencies are measured over several rounds; the medians are
 * asserted under 100 ms and printed.
 */
class VirtualThreadWaitTest {
  private static final int ROUNDS = 15;

  /** Runs {@code task} on a new virtual thread; the thread is returned through {@code holder}. */
  private static <T> CompletableFuture<T> virtual(Callable<T> task, Thread[] holder) {
    return TestSupport.async(Thread.ofVirtual(), task, holder);
  }

  /** Waits for the future's failure; returns it and records how long after {@code t0} it came. */
  private static Throwable failure(CompletableFuture<?> f, long t0, List<Long> latencies)
      throws Exception {
    try {
      f.get(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      latencies.add(System.nanoTime() - t0);
      return e.getCause();
    }
    throw new AssertionError("expected the call to fail");
  }

  private static void assertMedianUnder100ms(String what, List<Long> latencies) {
    List<Long> sorted = new ArrayList<>(latencies);
    Collections.sort(sorted);
    double medianMs = sorted.get(sorted.size() / 2) / 1e6;
    double maxMs = sorted.get(sorted.size() - 1) / 1e6;
    System.out.printf(
        "[virtual threads] %s: median %.3f ms, max %.3f ms over %d rounds%n",
        what, medianMs, maxMs, sorted.size());
    assertTrue(medianMs < 100, what + ": median " + medianMs + " ms");
  }

  @Test
  void closeWakesAVirtualThreadBlockedInRecv() throws Exception {
    List<Long> latencies = new ArrayList<>();
    for (int i = 0; i < ROUNDS; i++) {
      try (Pipe pipe = Pipe.open()) {
        Thread[] t = new Thread[1];
        CompletableFuture<Object> recv = virtual(() -> pipe.conn1().recv(), t);
        TestSupport.awaitBlocked(t[0]);
        long t0 = System.nanoTime();
        pipe.conn1().close();
        assertInstanceOf(AsynchronousCloseException.class, failure(recv, t0, latencies));
      }
    }
    assertMedianUnder100ms("close wakes recv", latencies);
  }

  @Test
  void interruptWakesAVirtualThreadBlockedInRecv() throws Exception {
    List<Long> latencies = new ArrayList<>();
    for (int i = 0; i < ROUNDS; i++) {
      try (Pipe pipe = Pipe.open(false)) {
        Thread[] t = new Thread[1];
        AtomicBoolean stillInterrupted = new AtomicBoolean();
        CompletableFuture<Object> recv =
            virtual(
                () -> {
                  try {
                    return pipe.conn1().recv();
                  } finally {
                    stillInterrupted.set(Thread.currentThread().isInterrupted());
                  }
                },
                t);
        TestSupport.awaitBlocked(t[0]);
        long t0 = System.nanoTime();
        t[0].interrupt();
        assertInstanceOf(ClosedByInterruptException.class, failure(recv, t0, latencies));
        assertTrue(stillInterrupted.get(), "the interrupt status is kept");
        assertTrue(pipe.conn1().isClosed(), "the end is closed, as NIO closes its channels");
      }
    }
    assertMedianUnder100ms("interrupt wakes recv", latencies);
  }

  @Test
  void closeWakesAVirtualThreadBlockedInSendOnAFullPipe() throws Exception {
    List<Long> latencies = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      try (Pipe pipe = Pipe.open()) {
        Thread[] t = new Thread[1];
        byte[] big = new byte[8 << 20]; // more than the socket buffers hold
        CompletableFuture<Void> send =
            virtual(
                () -> {
                  pipe.conn2().sendBytes(big);
                  return null;
                },
                t);
        TestSupport.awaitBlocked(t[0]);
        long t0 = System.nanoTime();
        pipe.conn2().close();
        assertInstanceOf(AsynchronousCloseException.class, failure(send, t0, latencies));
      }
    }
    assertMedianUnder100ms("close wakes send", latencies);
  }

  @Test
  void pollTimesOutAndAwaitReadableWakesOnAVirtualThread() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      Thread[] t = new Thread[1];
      long t0 = System.nanoTime();
      assertFalse(TestSupport.await(virtual(() -> pipe.conn1().poll(Duration.ofMillis(200)), t)));
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(200), "waited 200 ms");
      CompletableFuture<Boolean> poll = virtual(() -> pipe.conn1().poll(Duration.ofMinutes(5)), t);
      TestSupport.awaitBlocked(t[0]);
      pipe.conn2().send("x");
      assertTrue(TestSupport.await(poll));
      CompletableFuture<Object> ready =
          virtual(
              () -> {
                pipe.conn1().awaitReadable();
                return pipe.conn1().recv();
              },
              t);
      assertEquals("x", TestSupport.await(ready));
    }
  }

  @Test
  void waitAnyWakesAtOnceOnCloseAndInterruptOnBothKindsOfThread() throws Exception {
    for (boolean isVirtual : new boolean[] {true, false}) {
      String kind = isVirtual ? "virtual" : "platform";
      List<Long> onClose = new ArrayList<>();
      List<Long> onInterrupt = new ArrayList<>();
      List<Long> onData = new ArrayList<>();
      for (int i = 0; i < ROUNDS; i++) {
        try (Pipe a = Pipe.open(false);
            Pipe b = Pipe.open(false)) {
          List<Connection> both = List.of(a.conn1(), b.conn1());
          Thread[] t = new Thread[1];
          CompletableFuture<List<Connection>> w =
              start(isVirtual, () -> Connections.waitAny(both), t);
          TestSupport.awaitBlocked(t[0]);
          long t0 = System.nanoTime();
          b.conn1().close();
          assertEquals(List.of(b.conn1()), TestSupport.await(w));
          onClose.add(System.nanoTime() - t0);

          w = start(isVirtual, () -> Connections.waitAny(List.of(a.conn1())), t);
          TestSupport.awaitBlocked(t[0]);
          t0 = System.nanoTime();
          t[0].interrupt();
          assertInstanceOf(InterruptedException.class, failure(w, t0, onInterrupt));

          w = start(isVirtual, () -> Connections.waitAny(List.of(a.conn1())), t);
          TestSupport.awaitBlocked(t[0]);
          t0 = System.nanoTime();
          a.conn2().sendBytes(new byte[] {7});
          assertEquals(List.of(a.conn1()), TestSupport.await(w));
          onData.add(System.nanoTime() - t0);
        }
      }
      assertMedianUnder100ms("waitAny on a " + kind + " thread, woken by close", onClose);
      assertMedianUnder100ms("waitAny on a " + kind + " thread, woken by interrupt", onInterrupt);
      assertMedianUnder100ms("waitAny on a " + kind + " thread, woken by data", onData);
    }
  }

  private static <T> CompletableFuture<T> start(boolean isVirtual, Callable<T> task, Thread[] t) {
    return TestSupport.async(
        isVirtual ? Thread.ofVirtual() : Thread.ofPlatform().daemon(), task, t);
  }

  @Test
  void processLockWorksOnVirtualThreads() throws Exception {
    try (ProcessLock lock = ProcessLock.create()) {
      Thread[] t = new Thread[1];
      // lock / unlock / tryLock on a virtual thread; reentry refused as on platform threads
      assertTrue(
          TestSupport.await(
              virtual(
                  () -> {
                    lock.lock();
                    try {
                      try {
                        lock.lock();
                        return false;
                      } catch (IllegalMonitorStateException expected) {
                        // not reentrant
                      }
                      return !lock.tryLock();
                    } finally {
                      lock.unlock();
                    }
                  },
                  t)));
      // a platform thread holds it: a virtual tryLock(timeout) times out, lockInterruptibly is
      // interrupted, and lock() gets it once released
      lock.lock();
      try {
        long t0 = System.nanoTime();
        assertFalse(TestSupport.await(virtual(() -> lock.tryLock(Duration.ofMillis(150)), t)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(150));
        CompletableFuture<Void> interruptible =
            virtual(
                () -> {
                  lock.lockInterruptibly();
                  return null;
                },
                t);
        TestSupport.awaitBlocked(t[0]);
        t[0].interrupt();
        assertInstanceOf(
            InterruptedException.class,
            failure(interruptible, System.nanoTime(), new ArrayList<>()));
        CompletableFuture<Boolean> blocked =
            virtual(
                () -> {
                  lock.lock();
                  lock.unlock();
                  return true;
                },
                t);
        TestSupport.awaitBlocked(t[0]);
        assertFalse(blocked.isDone());
        lock.unlock();
        assertTrue(TestSupport.await(blocked));
        lock.lock(); // the agent gave it back: the platform thread takes it again
      } finally {
        lock.unlock();
      }
      // unlock by a virtual thread that does not hold it
      assertInstanceOf(
          IllegalMonitorStateException.class,
          TestSupport.failureOf(
              virtual(
                  () -> {
                    lock.unlock();
                    return null;
                  },
                  t)));
    }
  }

  @Test
  void closingAProcessLockHeldByAVirtualThreadEndsItsAgent() throws Exception {
    ProcessLock lock = ProcessLock.create();
    Thread[] t = new Thread[1];
    assertTrue(
        TestSupport.await(
            virtual(
                () -> {
                  lock.lock();
                  return true;
                },
                t)));
    assertTrue(agentThreads() > 0, "a platform thread holds the lock for the virtual thread");
    lock.close(); // still held through the agent: close gives it back and ends the agent
    assertTrue(lock.toString().contains("closed"));
    TestSupport.eventually("the lock agent to end", () -> agentThreads() == 0);
  }

  private static long agentThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(x -> x.getName().equals("jpipe-lock-agent") && x.isAlive())
        .count();
  }
}
