package io.jpipe.internal.shm;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A lock word in the segment that serializes the writers (or the readers) of one ring across
 * processes, and that a dead holder cannot wedge.
 *
 * <p>The word is 0 when free, else the holder's token ({@link ShmSegment}: slot and generation),
 * with {@link #WAITERS} set once someone sleeps on it. Taking it is one compare-and-set; giving it
 * back one atomic swap, plus a {@code futex} wake only if {@link #WAITERS} was set. A waiter spins
 * briefly, then sleeps (platform threads on the word's futex, virtual threads parked), and every
 * {@link #CHECK_NANOS} asks whether the holder's attachment is still alive; if it is not (its
 * process died, at whatever instant), the waiter swaps its own token in and is told {@link
 * #OWNER_DIED}. What the dead holder left half done is then discarded by the ring's own rules:
 * bytes past the committed write cursor are never read, and a reader skips chunks of a message
 * whose start another reader consumed.
 *
 * <p>Within one process the connection's own locks let one thread at a time near a ring lock, and a
 * token belongs to one attachment, so the holder of a word is never another thread of the same
 * attachment.
 */
final class RingLock {
  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  /** Bit of the word: someone sleeps on it, so the releaser must wake. */
  static final int WAITERS = 1 << 31;

  /** Bits of a token that hold the slot's generation (after the slot's 10 bits). */
  static final int GEN_MASK = (1 << 20) - 1;

  /** Taken normally. */
  static final int OK = 0;

  /** Taken over from a holder that died. */
  static final int OWNER_DIED = 1;

  /** How often a waiter asks whether the holder is alive. */
  static final long CHECK_NANOS = 5_000_000L;

  private final MemorySegment map;
  private final long offset;
  private final long address;

  RingLock(MemorySegment map, long offset) {
    this.map = map;
    this.offset = offset;
    this.address = map.address() + offset;
  }

  static int token(int slot, int generation) {
    return slot | (generation & GEN_MASK) << 10;
  }

  static int slot(int token) {
    return token & 0x3ff;
  }

  static int generation(int token) {
    return (token >>> 10) & GEN_MASK;
  }

  /**
   * Takes the lock.
   *
   * @param end the end that takes it (its token, liveness checks, close and interrupt)
   * @return {@link #OK} or {@link #OWNER_DIED}
   * @throws io.jpipe.ProtocolException if the word names this end as the holder (it is not: the
   *     segment is corrupt)
   * @throws IOException if the end is closed or the thread interrupted while waiting
   */
  int lock(ShmEnd end) throws IOException {
    int me = end.segment().token();
    if (INT.compareAndSet(map, offset, 0, me)) {
      return OK;
    }
    return lockSlow(end, me);
  }

  private int lockSlow(ShmEnd end, int me) throws IOException {
    for (int i = 0; i < 200; i++) {
      Thread.onSpinWait();
      if ((int) INT.getVolatile(map, offset) == 0 && INT.compareAndSet(map, offset, 0, me)) {
        return OK;
      }
    }
    long nextCheck = System.nanoTime() + CHECK_NANOS;
    long backoff = 20_000;
    for (; ; ) {
      int v = (int) INT.getVolatile(map, offset);
      if (v == 0) {
        // others may sleep too: keep the bit, so that our release wakes them
        if (INT.compareAndSet(map, offset, 0, me | WAITERS)) {
          return OK;
        }
        continue;
      }
      if ((v & WAITERS) == 0 && !INT.compareAndSet(map, offset, v, v | WAITERS)) {
        continue;
      }
      v |= WAITERS;
      end.checkWaiting();
      if (Thread.currentThread().isVirtual()) {
        ShmWait.park(backoff);
        backoff = Math.min(2 * backoff, 10_000_000);
      } else {
        ShmWait.await(address, v, CHECK_NANOS);
      }
      end.checkWaiting();
      long now = System.nanoTime();
      if (now - nextCheck >= 0) {
        nextCheck = now + CHECK_NANOS;
        int holder = v & ~WAITERS;
        if (holder == me) {
          // only one thread of an attachment is ever near the word: someone else wrote our token
          throw new io.jpipe.ProtocolException(
              "corrupt shared-memory ring: a lock word names this end, which does not hold it");
        }
        if (!end.segment().alive(holder) && INT.compareAndSet(map, offset, v, me | WAITERS)) {
          return OWNER_DIED;
        }
      }
    }
  }

  /** Gives the lock back; wakes sleepers if any. */
  void unlock() {
    int old = (int) INT.getAndSet(map, offset, 0);
    if ((old & WAITERS) != 0) {
      ShmWait.futexWake(address);
    }
  }

  /** Whether this end holds the lock now (for assertions and tests). */
  boolean heldBy(ShmEnd end) {
    return ((int) INT.getVolatile(map, offset) & ~WAITERS) == end.segment().token();
  }
}
