package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.channels.AsynchronousCloseException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Waiting on a shared-memory end costs nothing once the spin is over: a receiver with nothing to
 * receive, and a sender with no room, each use under 1% of a CPU over 10 seconds (their threads'
 * CPU time, which the machine's load does not inflate).
 */
class ShmIdleTest {
  private static final long WATCH_NANOS = 10_000_000_000L;

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** A call that blocks until the pipe is closed. */
  interface Blocking {
    void run() throws Exception;
  }

  /** Runs {@code blocked} on a platform thread and returns the CPU it used in the watch. */
  private static long idleCpuNanos(Pipe pipe, Blocking blocked) throws Exception {
    AtomicLong tid = new AtomicLong(-1);
    CompletableFuture<Object> f =
        TestSupport.async(
            () -> {
              tid.set(Thread.currentThread().threadId());
              blocked.run();
              return null;
            });
    TestSupport.eventually("the thread started", () -> tid.get() != -1);
    Thread.sleep(500); // past the spin
    long before = THREADS.getThreadCpuTime(tid.get());
    Thread.sleep(WATCH_NANOS / 1_000_000);
    long used = THREADS.getThreadCpuTime(tid.get()) - before;
    pipe.close();
    assertInstanceOf(AsynchronousCloseException.class, TestSupport.failureOf(f));
    return used;
  }

  @Test
  void anIdleReceiverAndABlockedSenderUseUnderOnePercentOfACpu() throws Exception {
    assertTrue(THREADS.isThreadCpuTimeSupported());
    try (Pipe r = Pipe.builder().sharedMemory(4096).open();
        Pipe w = Pipe.builder().sharedMemory(4096).open()) {
      long recv = idleCpuNanos(r, () -> r.conn1().recvBytes());
      long send = idleCpuNanos(w, () -> w.conn2().sendBytes(new byte[1 << 20]));
      System.out.printf(
          "idle over 10 s: receiver %.3f%% of a CPU, sender %.3f%%%n",
          100.0 * recv / WATCH_NANOS, 100.0 * send / WATCH_NANOS);
      assertTrue(recv < WATCH_NANOS / 100, "an idle receiver used " + recv / 1000 + " us");
      assertTrue(send < WATCH_NANOS / 100, "a blocked sender used " + send / 1000 + " us");
    }
  }
}
