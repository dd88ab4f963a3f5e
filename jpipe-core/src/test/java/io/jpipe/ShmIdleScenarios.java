package io.jpipe;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Scenarios for {@link ShmIdleTest} that run in a JVM of their own ({@link
 * VirtualThreadsParkTest#runOnOneCarrier}): its virtual-thread scheduler has exactly one carrier,
 * so a virtual thread that spun or blocked its carrier while waiting on a shared-memory end would
 * stall every other virtual thread, the sender among them.
 */
public final class ShmIdleScenarios {
  private ShmIdleScenarios() {}

  /** How long the whole scenario may take. */
  private static final long LIMIT_SECONDS = 150;

  /**
   * Runs {@code parkedReaders n}: n virtual threads each in {@code recv()} on a shared-memory pipe
   * of its own; once all are parked, one more virtual thread sends to every pipe.
   *
   * @param args the scenario's name and its size
   * @throws Exception if it fails
   */
  public static void main(String[] args) throws Exception {
    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(LIMIT_SECONDS));
                System.out.println("STALLED: " + args[0]);
                Thread.getAllStackTraces()
                    .forEach((t, st) -> System.out.println(t + " " + List.of(st)));
                System.out.flush();
                Runtime.getRuntime().halt(3);
              } catch (InterruptedException e) {
                // finished in time
              }
            },
            "watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    if (!"parkedReaders".equals(args[0])) {
      throw new IllegalArgumentException(args[0]);
    }
    System.out.println("OK " + parkedReaders(Integer.parseInt(args[1])));
    System.out.flush();
    System.exit(0);
  }

  static String parkedReaders(int n) throws Exception {
    List<Pipe> pipes = new ArrayList<>(n);
    try {
      for (int i = 0; i < n; i++) {
        pipes.add(Pipe.builder().duplex(false).sharedMemory(4096).open());
      }
      AtomicInteger right = new AtomicInteger();
      List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
      CountDownLatch done = new CountDownLatch(n);
      List<Thread> readers = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        Connection in = pipes.get(i).conn1();
        int index = i;
        readers.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        if (Integer.valueOf(index).equals(in.recv())) {
                          right.incrementAndGet();
                        }
                      } catch (Throwable t) {
                        failures.add(t);
                      } finally {
                        done.countDown();
                      }
                    }));
      }
      awaitParked(readers);
      long start = System.nanoTime();
      Thread sender =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      for (int i = 0; i < n; i++) {
                        pipes.get(i).conn2().send(i);
                      }
                    } catch (IOException e) {
                      failures.add(e);
                    }
                  });
      done.await();
      sender.join();
      long ms = (System.nanoTime() - start) / 1_000_000;
      if (!failures.isEmpty()) {
        AssertionError e = new AssertionError(failures.size() + " failures");
        failures.forEach(e::addSuppressed);
        throw e;
      }
      if (right.get() != n) {
        throw new AssertionError(right.get() + " of " + n + " readers received their message");
      }
      return "threads=" + n + " received=" + right.get() + " releaseMs=" + ms;
    } finally {
      for (Pipe p : pipes) {
        p.close();
      }
    }
  }

  /** Waits until every thread is parked (WAITING or TIMED_WAITING): past its spin window. */
  private static void awaitParked(List<Thread> threads) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS);
    for (; ; ) {
      int parked = 0;
      for (Thread t : threads) {
        Thread.State st = t.getState();
        if (st == Thread.State.WAITING || st == Thread.State.TIMED_WAITING) {
          parked++;
        }
      }
      if (parked == threads.size()) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(parked + " of " + threads.size() + " threads parked");
      }
      Thread.sleep(20);
    }
  }
}
