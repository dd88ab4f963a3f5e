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
 * <p>The spin window of each end and direction ({@link Window}) adapts to how long the peer takes
 * to answer: it grows while what was waited for came within the window (a peer answering fast); a
 * wait that had to sleep halves it, down to {@link #MIN_SPIN_NANOS}, so that an idle end, or one
 * whose peer shares its only CPU, wastes little; and a wait that slept although what it waited for
 * came sets the window to twice the time it took if that was within {@link #MAX_SPIN_NANOS} in all,
 * else to {@link #START_SPIN_NANOS}, so that a window shrunk by a few late answers (a peer
 * descheduled for a while) comes back instead of staying at its floor. (A sleeper cannot tell when
 * what it waited for came: the time it took includes the wake-up, 100-500 µs on a virtual machine,
 * longer than any window, so most probes are blind.) Such a probe that fails (the next wait sleeps
 * too) is tried again only after twice as many sleeping waits as the last time, up to {@link
 * #MAX_PROBE_GAP}; a process allowed only one CPU never probes, since its spin holds the CPU the
 * peer would answer on. The window never exceeds {@link #MAX_SPIN_NANOS}.
 *
 * <p>Sleeping: a reader on a platform thread sleeps on the ring's write cursor with {@code futex}
 * (one system call for the writer to wake it), in slices after which it asks its socket whether the
 * peer hung up; a reader on a virtual thread, which must never block its carrier in a system call,
 * and {@code Connections.waitAny} sleep on the socket instead (doorbells and end of file wake them;
 * a virtual thread parks through the project's poller). A writer waiting for room sleeps on the
 * ring's read cursor with {@code futex} (platform threads, in slices) or parks with a growing
 * timeout (virtual threads); so does a waiter for a ring lock. A sleeper on a futex asks to be
 * woken in the segment before its last look at the cursor (a writer also says up to which read
 * cursor it waits), and the first peer to see the request clears it and wakes once, so a writer or
 * reader calls the kernel only when someone sleeps, and once per sleep however many records pass
 * before the sleeper runs again; socket sleepers are counted, and rung while the count is not 0.
 *
 * <p>A wait for a peer that this end has just woken (its last publish or consume woke or rang the
 * peer) spins longer, up to {@link #AFTER_WAKE_SPIN_NANOS}: its answer comes only after the peer's
 * wake-up, longer than any window, and a wait that then slept would make the peer's next wait, for
 * this end's answer, wait for this end's wake-up in turn: two peers in a conversation would sleep
 * and wake each other for every message, at 100 times the cost of the message. That after-wake spin
 * halves each time it is not enough (a peer slow to answer, not only to wake), and comes back whole
 * when the peer answers within it; a wait after a wake-up that sleeps leaves the window as it was.
 * Virtual threads never spin that long: they would hold their carrier.
 *
 * <p>A writer waiting for room spins while the reader's cursor keeps moving, and at least {@link
 * ShmEnd#ROOM_MIN_SPIN_NANOS} without it moving; a reader waiting for the next chunk of a message
 * spins the longest window, since its writer is in the middle of writing it.
 */
final class ShmWait {
  /** The longest a spin lasts before sleeping. */
  static final long MAX_SPIN_NANOS = 100_000;

  /** The shortest spin window. */
  static final long MIN_SPIN_NANOS = 1_000;

  /**
   * The longest spin of a wait for a peer that this end has just woken (its wake-up included): a
   * futex or socket wake-up takes 100-500 µs to run the sleeper on a virtual machine.
   */
  static final long AFTER_WAKE_SPIN_NANOS = 500_000;

  /** The first spin window. */
  static final long START_SPIN_NANOS = 20_000;

  /** The most sleeping waits between two probes of a longer window. */
  static final int MAX_PROBE_GAP = 64;

  /** Whether this process may run on one CPU only (then a spin cannot meet a peer's answer). */
  static final boolean ONE_CPU = Runtime.getRuntime().availableProcessors() <= 1;

  private ShmWait() {}

  /**
   * The adaptive spin window of one end and direction (see the class comment). Its fields are
   * hints: threads that race on them (the connection's locks serialize the usual case) only make a
   * window a little longer or shorter.
   */
  static final class Window {
    private long nanos = ONE_CPU ? MIN_SPIN_NANOS : START_SPIN_NANOS;
    private int probeGap = 1;
    private int untilProbe = 1;
    private long afterWake = ONE_CPU ? 0 : AFTER_WAKE_SPIN_NANOS;

    /**
     * How long the next wait spins.
     *
     * @param peerWoken whether this end woke the peer it now waits for (see the class comment)
     */
    long nanos(boolean peerWoken) {
      return peerWoken ? Math.max(nanos, afterWake) : nanos;
    }

    /**
     * A wait that the spin satisfied.
     *
     * @param peerWoken as given to {@link #nanos}
     */
    void spun(boolean peerWoken) {
      if (peerWoken && !ONE_CPU) {
        afterWake = AFTER_WAKE_SPIN_NANOS; // the peer answers in time even when woken first
      }
      nanos = Math.min(MAX_SPIN_NANOS, nanos + (nanos >> 1) + 1000);
      probeGap = 1;
      untilProbe = 1;
    }

    /**
     * A wait that had to sleep.
     *
     * @param peerWoken as given to {@link #nanos}
     * @param waited how long the wait lasted in all, spin included, until what it waited for came,
     *     or {@code Long.MAX_VALUE} if it gave up (end of file, deadline)
     */
    void slept(boolean peerWoken, long waited) {
      if (peerWoken) {
        afterWake >>= 1; // a peer slow to answer, not only to wake: the spin after a wake shrinks
        return;
      }
      if (!ONE_CPU && waited != Long.MAX_VALUE && --untilProbe <= 0) {
        nanos =
            waited <= MAX_SPIN_NANOS
                ? Math.clamp(2 * waited, MIN_SPIN_NANOS, MAX_SPIN_NANOS)
                : START_SPIN_NANOS;
        probeGap = Math.min(2 * probeGap, MAX_PROBE_GAP);
        untilProbe = probeGap;
      } else {
        nanos = Math.max(MIN_SPIN_NANOS, nanos >> 1);
      }
    }
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
