package io.jpipe.internal.shm;

import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.LockSupport;

/**
 * How a shared-memory end waits: spin briefly, adaptively, then sleep in the kernel.
 *
 * <p>The spin window of each end and direction adapts: it grows while what was waited for came
 * within the window (a peer answering fast), and shrinks when the wait had to sleep, down to {@link
 * #MIN_SPIN_NANOS}, so that an idle end, or one whose peer shares its only CPU, wastes little; it
 * never exceeds {@link #MAX_SPIN_NANOS}.
 *
 * <p>Sleeping: a reader on a platform thread sleeps on the ring's write cursor with {@code futex}
 * (one system call for the writer to wake it), in slices after which it asks its socket whether the
 * peer hung up; a reader on a virtual thread, which must never block its carrier in a system call,
 * and {@code Connections.waitAny} sleep on the socket instead (doorbells and end of file wake them;
 * a virtual thread parks through the project's poller). A writer waiting for room sleeps on the
 * ring's read cursor with {@code futex} (platform threads, in slices) or parks with a growing
 * timeout (virtual threads); so does a waiter for a ring lock. Every sleeper is counted in the
 * segment, so a writer or reader calls the kernel to wake only when someone sleeps.
 */
final class ShmWait {
  /** The longest a spin lasts before sleeping. */
  static final long MAX_SPIN_NANOS = 50_000;

  /** The shortest spin window. */
  static final long MIN_SPIN_NANOS = 1_000;

  /** The first spin window. */
  static final long START_SPIN_NANOS = 20_000;

  private ShmWait() {}

  /** The next window after a wait that the spin satisfied. */
  static long grow(long window) {
    return Math.min(MAX_SPIN_NANOS, window + (window >> 1) + 1000);
  }

  /** The next window after a wait that had to sleep. */
  static long shrink(long window) {
    return Math.max(MIN_SPIN_NANOS, window >> 1);
  }

  /**
   * Sleeps on a futex word while it holds {@code expected}, at most {@code nanos}; any outcome
   * (woken, value changed, timed out, signal) returns. Platform threads only.
   */
  static void await(long address, int expected, long nanos) {
    Scratch s = Scratch.get();
    MemorySegment ts = s.small;
    ts.set(ValueLayout.JAVA_LONG, 0, nanos / 1_000_000_000L);
    ts.set(ValueLayout.JAVA_LONG, 8, nanos % 1_000_000_000L);
    Libc.futex(s.errno, address, Linux.FUTEX_WAIT, expected, ts);
  }

  /** Wakes every sleeper, of any process, on a futex word. */
  static void futexWake(long address) {
    Scratch s = Scratch.get();
    Libc.futex(s.errno, address, Linux.FUTEX_WAKE, Integer.MAX_VALUE, MemorySegment.NULL);
  }

  /** Parks (a virtual thread) for at most {@code nanos}. */
  static void park(long nanos) {
    LockSupport.parkNanos(ShmWait.class, nanos);
  }
}
