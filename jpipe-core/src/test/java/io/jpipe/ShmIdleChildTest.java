package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Waiting on a shared-memory end costs nothing once the spin window is over, in a child process
 * too: an idle reader in a child JVM, on an end it inherited, uses under 1% of a CPU over 10 s (its
 * thread's CPU time, which the kernel counts whatever the machine's load), and still wakes for the
 * next message. (ShmIdleTest watches readers and senders in this JVM, and ShmVirtualThreadsParkTest
 * virtual threads on one carrier.)
 */
class ShmIdleChildTest {
  /** How long the idle reader is watched. */
  static final long WATCH_MILLIS = 10_000;

  /** Far past any spin window (at most 100 us): the reader is asleep by then. */
  static final long SETTLE_MILLIS = 500;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /**
   * Runs in the child: a platform thread waits in {@code recvBytes()} on an idle shared-memory end;
   * after {@link #SETTLE_MILLIS} its CPU time is read, and again {@link #WATCH_MILLIS} later; both
   * go to the parent ({@code [cpu ns, wall ns]}), which then sends the reader a message.
   */
  static void idleReader(Connection shm, Connection ctl) throws Exception {
    AtomicReference<byte[]> got = new AtomicReference<>();
    Thread reader =
        Thread.ofPlatform()
            .name("idle-shm-reader")
            .start(
                () -> {
                  try {
                    got.set(shm.recvBytes());
                  } catch (IOException e) {
                    got.set(("failed: " + e).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                  }
                });
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    Thread.sleep(SETTLE_MILLIS);
    long cpu0 = mx.getThreadCpuTime(reader.threadId());
    long t0 = System.nanoTime();
    Thread.sleep(WATCH_MILLIS);
    long cpu1 = mx.getThreadCpuTime(reader.threadId());
    long t1 = System.nanoTime();
    ctl.send(new long[] {cpu1 - cpu0, t1 - t0, cpu0});
    reader.join();
    ctl.sendBytes(got.get());
  }

  @Test
  void anIdleReaderUsesUnderOnePercentOfACpuAndStillWakes() throws Exception {
    try (Pipe shm = Pipe.builder().duplex(false).sharedMemory(1 << 16).open();
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ShmIdleChildTest::idleReader, shm.conn1(), ctl.conn2());
      p.start();
      shm.conn1().close();
      ctl.conn2().close();
      long[] m = (long[]) ctl.conn1().recv();
      double share = (double) m[0] / m[1];
      System.out.printf(
          "[shm idle] reader CPU %.3f ms over %.0f ms of wall time: %.4f%% of a CPU"
              + " (%.3f ms in the first %d ms)%n",
          m[0] / 1e6, m[1] / 1e6, 100 * share, m[2] / 1e6, SETTLE_MILLIS);
      assertTrue(
          share < 0.01,
          "an idle shared-memory reader used " + (100 * share) + "% of a CPU (limit 1%)");
      byte[] wake = {1, 2, 3};
      shm.conn2().sendBytes(wake);
      assertArrayEquals(wake, ctl.conn1().recvBytes(), "the sleeping reader woke for a message");
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }
}
