package io.jpipe;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The scenarios of {@link ShmVirtualThreadsParkTest}, each run as the main class of a JVM whose
 * virtual-thread scheduler has one carrier: virtual threads blocked on shared-memory ends (in a
 * receive, in {@link Connections#waitAny}, in a send that waits for room) must park, or the one
 * thread that releases them all never runs.
 */
public final class ShmVirtualThreadScenarios {
  private ShmVirtualThreadScenarios() {}

  private static final long LIMIT_SECONDS = 150;

  /**
   * Runs one scenario.
   *
   * @param args the scenario's name and its size
   */
  public static void main(String[] args) throws Exception {
    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(LIMIT_SECONDS));
                System.out.println("STALLED: " + args[0] + " did not finish; threads:");
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
    int n = Integer.parseInt(args[1]);
    String result =
        switch (args[0]) {
          case "recv" ->
              blockOn(
                  n,
                  (p, i) -> Integer.valueOf(i).equals(p.conn1().recv()),
                  (p, i) -> p.conn2().send(i));
          case "waitAny" ->
              blockOn(
                  n,
                  (p, i) -> Connections.waitAny(List.of(p.conn1())).equals(List.of(p.conn1())),
                  (p, i) -> p.conn2().send(i));
          case "send" ->
              blockOn(
                  n,
                  (p, i) -> {
                    p.conn2().sendBytes(TestSupport.payload(i, 3 * 4096)); // thrice the ring
                    return true;
                  },
                  (p, i) -> {
                    if (!java.util.Arrays.equals(
                        TestSupport.payload(i, 3 * 4096), p.conn1().recvBytes())) {
                      throw new AssertionError("message " + i + " differs");
                    }
                  });
          default -> throw new IllegalArgumentException(args[0]);
        };
    System.out.println("OK " + result);
    System.out.flush();
    System.exit(0);
  }

  interface Blocking {
    boolean call(Pipe p, int i) throws Exception;
  }

  interface Release {
    void run(Pipe p, int i) throws Exception;
  }

  /**
   * n virtual threads each blocked in {@code call} on a one-way shared-memory pipe of its own (4
   * KiB ring); once all are parked, one more virtual thread runs {@code release} on every pipe, and
   * every call must return true.
   */
  private static String blockOn(int n, Blocking call, Release release) throws Exception {
    List<Pipe> pipes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      pipes.add(Pipe.builder().duplex(false).sharedMemory(4096).open());
    }
    int fdsWithPipes = TestSupport.fdCount();
    AtomicInteger right = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch done = new CountDownLatch(n);
    List<Thread> blocked = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Pipe p = pipes.get(i);
      int index = i;
      blocked.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      if (call.call(p, index)) {
                        right.incrementAndGet();
                      }
                    } catch (Throwable t) {
                      failures.add(t);
                    } finally {
                      done.countDown();
                    }
                  }));
    }
    awaitParked(blocked, n);
    int extraFds = TestSupport.fdCount() - fdsWithPipes;
    long start = System.nanoTime();
    Thread releaser =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (int i = 0; i < n; i++) {
                      release.run(pipes.get(i), i);
                    }
                  } catch (Throwable t) {
                    failures.add(t);
                  }
                });
    done.await();
    long ms = (System.nanoTime() - start) / 1_000_000;
    releaser.join();
    pipes.forEach(Pipe::close);
    if (!failures.isEmpty()) {
      AssertionError e = new AssertionError(failures.size() + " threads failed");
      failures.stream().limit(5).forEach(e::addSuppressed);
      throw e;
    }
    if (right.get() != n) {
      throw new AssertionError(right.get() + " of " + n + " threads returned as expected");
    }
    if (extraFds > 8) {
      throw new AssertionError(n + " parked threads cost " + extraFds + " descriptors");
    }
    return "threads=" + n + " ok=" + right.get() + " extraFds=" + extraFds + " releaseMs=" + ms;
  }

  private static void awaitParked(List<Thread> threads, int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS);
    for (; ; ) {
      int parked = 0;
      for (Thread t : threads) {
        Thread.State st = t.getState();
        if (st == Thread.State.WAITING || st == Thread.State.TIMED_WAITING) {
          parked++;
        }
      }
      if (parked >= count) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(parked + " of " + count + " threads parked");
      }
      Thread.sleep(20);
    }
  }
}
