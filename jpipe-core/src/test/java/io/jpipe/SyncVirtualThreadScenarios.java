package io.jpipe;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Many virtual threads waiting on the synchronization types with ONE carrier: run in a JVM of its
 * own by {@link SyncVirtualThreadsParkTest} with {@code -Djdk.virtualThreadScheduler.parallelism=1
 * -Djdk.virtualThreadScheduler.maxPoolSize=1}. If a wait pinned the carrier, the thread that
 * releases the others could never run, and the watchdog would fail the scenario.
 *
 * <p>Prints one line {@code OK key=value ...} and exits 0, or prints what went wrong and exits 1.
 */
public final class SyncVirtualThreadScenarios {
  private SyncVirtualThreadScenarios() {}

  /** How long a whole scenario may take before the watchdog fails it. */
  private static final long LIMIT_SECONDS = VirtualThreadScenarios.LIMIT_SECONDS;

  /**
   * Runs one scenario.
   *
   * @param args the scenario's name and its size
   */
  public static void main(String[] args) throws Exception {
    VirtualThreadScenarios.startWatchdog(args[0]);
    int n = Integer.parseInt(args[1]);
    String result =
        switch (args[0]) {
          case "event" -> event(n);
          case "semaphore" -> semaphore(n);
          case "condition" -> condition(n);
          case "barrier" -> barrier(n);
          default -> throw new IllegalArgumentException(args[0]);
        };
    System.out.println("OK " + result);
    System.out.flush();
    System.exit(0);
  }

  private static void joinAll(List<Thread> threads) throws InterruptedException {
    for (Thread t : threads) {
      t.join();
    }
  }

  /** Child: sets the event. */
  static void setEvent(ProcessEvent event) {
    event.set();
  }

  /** n virtual threads await an event that a child process sets. */
  private static String event(int n) throws Exception {
    AtomicInteger done = new AtomicInteger();
    try (ProcessEvent event = ProcessEvent.create()) {
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        threads.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        if (event.await(LIMIT_SECONDS, TimeUnit.SECONDS)) {
                          done.incrementAndGet();
                        }
                      } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                      }
                    }));
      }
      VirtualThreadScenarios.awaitParked(threads, n);
      ChildProcess p = ChildProcess.of(SyncVirtualThreadScenarios::setEvent, event);
      p.start();
      p.join();
      joinAll(threads);
    }
    check(done.get() == n, "woken " + done.get() + " of " + n);
    return "woken=" + done.get();
  }

  /** n virtual threads acquire from an empty semaphore; a virtual thread releases n permits. */
  private static String semaphore(int n) throws Exception {
    AtomicInteger done = new AtomicInteger();
    try (ProcessSemaphore sem = ProcessSemaphore.create(0)) {
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        threads.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        sem.acquire();
                        done.incrementAndGet();
                      } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                      }
                    }));
      }
      VirtualThreadScenarios.awaitParked(threads, n);
      Thread.ofVirtual()
          .start(
              () -> {
                for (int i = 0; i < n; i++) {
                  sem.release();
                }
              })
          .join();
      joinAll(threads);
      check(sem.availablePermits() == 0, "permits left: " + sem.availablePermits());
    }
    check(done.get() == n, "acquired " + done.get() + " of " + n);
    return "acquired=" + done.get();
  }

  /** n virtual threads wait on a condition of a reentrant lock (held twice); one signals all. */
  private static String condition(int n) throws Exception {
    AtomicInteger done = new AtomicInteger();
    try (ProcessLock lock = ProcessLock.createReentrant();
        ProcessCondition cond = lock.newCondition();
        SharedInt go = SharedInt.create(0)) {
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        threads.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      lock.lock();
                      lock.lock();
                      try {
                        while (go.get() == 0) {
                          cond.awaitUninterruptibly();
                        }
                        done.incrementAndGet();
                      } finally {
                        lock.unlock();
                        lock.unlock();
                      }
                    }));
      }
      VirtualThreadScenarios.awaitParked(threads, n);
      Thread.ofVirtual()
          .start(
              () -> {
                lock.lock();
                try {
                  go.set(1);
                  cond.signalAll();
                } finally {
                  lock.unlock();
                }
              })
          .join();
      joinAll(threads);
    }
    check(done.get() == n, "woken " + done.get() + " of " + n);
    return "woken=" + done.get();
  }

  /** n virtual threads and this thread are the parties of a barrier, for two rounds. */
  private static String barrier(int n) throws Exception {
    AtomicInteger done = new AtomicInteger();
    try (ProcessBarrier b = ProcessBarrier.create(n + 1)) {
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        threads.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        b.await();
                        b.await();
                        done.incrementAndGet();
                      } catch (Exception e) {
                        throw new IllegalStateException(e);
                      }
                    }));
      }
      VirtualThreadScenarios.awaitParked(threads, n);
      b.await();
      b.await();
      joinAll(threads);
    }
    check(done.get() == n, "passed " + done.get() + " of " + n);
    return "passed=" + done.get();
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAILED: " + what);
      System.out.flush();
      System.exit(1);
    }
  }
}
