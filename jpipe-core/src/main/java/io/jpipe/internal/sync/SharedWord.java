package io.jpipe.internal.sync;

import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A 32-bit word of shared memory that threads of any process sleep on until it changes: a {@code
 * futex} (Linux's fast user-space mutex word). A waker changes the word, then calls {@link
 * #wakeAll()}; a sleeper says which value it saw and sleeps only while the word still holds it (the
 * kernel checks that and queues the sleeper atomically, so no wake-up is lost).
 *
 * <p>Nothing is recorded about who sleeps: a sleeper that dies is simply gone from the kernel's
 * queue, so a death never leaves this word in a state that stops the others.
 *
 * <p>Platform threads sleep in the system call, in slices of 50 ms to notice interrupts. Virtual
 * threads must never block a carrier in a system call, so they park in a {@link ReentrantLock}'s
 * condition of this JVM, and one platform thread of this word (started on first use by a virtual
 * thread, ended when idle) sleeps on the futex for all of them and wakes them all when it returns.
 * Nothing is sized by the number of waiters.
 */
public final class SharedWord {
  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  /** Waits in the kernel are cut into slices this long, to notice interrupts and close. */
  private static final long SLICE_NANOS = 50_000_000L;

  /** An idle watcher thread ends after this long. */
  private static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final MemorySegment memory;
  private final long offset;
  private final long address;

  /**
   * What must stay reachable while the word is used: the owner of the memory, whose Cleaner would
   * unmap it (a segment of a shared arena does not keep the arena's owner reachable), or null.
   */
  private final Object anchor;

  /** The virtual threads of this JVM that wait, and the watcher that sleeps for them. */
  private final ReentrantLock local = new ReentrantLock();

  /** Signalled by the watcher each time it wakes from the futex. */
  private final Condition changed = local.newCondition();

  /** Signalled when a virtual thread starts waiting or on close: work for the watcher. */
  private final Condition work = local.newCondition();

  /** Guarded by {@code local}. */
  private int virtualWaiters;

  /** Makes the watcher threads; replaced by tests only, to make a start fail. */
  static volatile ThreadFactory watcherFactory =
      Thread.ofPlatform().daemon().name("jpipe-futex-watcher").factory();

  /** Guarded by {@code local}: the watcher thread, or null. */
  private Thread watcher;

  /** Guarded by {@code local}. */
  private boolean closed;

  /**
   * The word at {@code offset} of {@code memory}.
   *
   * @param memory shared memory (mapped {@code MAP_SHARED}), which outlives this word's use
   * @param offset where the word is, a multiple of 4
   */
  public SharedWord(MemorySegment memory, long offset) {
    this(memory, offset, null);
  }

  /**
   * The word at {@code offset} of {@code memory}, which {@code anchor}'s Cleaner unmaps: every use
   * of the word keeps {@code anchor} reachable until it returns.
   *
   * @param memory shared memory (mapped {@code MAP_SHARED})
   * @param offset where the word is, a multiple of 4
   * @param anchor the owner of the mapping, or null
   */
  public SharedWord(MemorySegment memory, long offset, Object anchor) {
    this.anchor = anchor;
    if (offset % 4 != 0 || (memory.address() + offset) % 4 != 0) {
      throw new IllegalArgumentException("a futex word must be 4-byte aligned: " + offset);
    }
    this.memory = memory;
    this.offset = offset;
    this.address = memory.address() + offset;
    memory.asSlice(offset, 4); // bounds check
  }

  /**
   * The deadline for a wait of {@code nanos} from now: a {@link System#nanoTime} value, or {@link
   * Long#MAX_VALUE} (no deadline) for a wait so long it would overflow.
   *
   * @param nanos the longest wait; negative is none
   * @return the deadline to give to {@link #await}
   */
  public static long deadline(long nanos) {
    if (nanos >= Long.MAX_VALUE / 4) {
      return Long.MAX_VALUE;
    }
    return System.nanoTime() + Math.max(0, nanos);
  }

  /**
   * Reads the word (volatile).
   *
   * @return its value
   */
  public int get() {
    try {
      return (int) INT.getVolatile(memory, offset);
    } finally {
      Reference.reachabilityFence(anchor);
    }
  }

  /**
   * Writes the word (volatile); does not wake anyone.
   *
   * @param value the new value
   */
  public void set(int value) {
    try {
      INT.setVolatile(memory, offset, value);
    } finally {
      Reference.reachabilityFence(anchor);
    }
  }

  /**
   * Atomically replaces the word if it holds {@code expected}.
   *
   * @param expected the value it must hold
   * @param value the new value
   * @return true if replaced
   */
  public boolean compareAndSet(int expected, int value) {
    try {
      return INT.compareAndSet(memory, offset, expected, value);
    } finally {
      Reference.reachabilityFence(anchor);
    }
  }

  /**
   * Atomically adds to the word.
   *
   * @param delta what to add
   * @return the value before
   */
  public int getAndAdd(int delta) {
    try {
      return (int) INT.getAndAdd(memory, offset, delta);
    } finally {
      Reference.reachabilityFence(anchor);
    }
  }

  /** Wakes every thread of every process sleeping on this word. */
  public void wakeAll() {
    Scratch s = Scratch.get();
    try {
      Libc.futex(s.errno, address, Linux.FUTEX_WAKE, Integer.MAX_VALUE, MemorySegment.NULL);
    } finally {
      Reference.reachabilityFence(anchor); // the raw address is only valid while mapped
    }
  }

  /**
   * Waits until the word no longer holds {@code expected}, the deadline passes or (if {@code
   * interruptible}) the thread is interrupted.
   *
   * @param expected the value the caller saw
   * @param deadline a {@link System#nanoTime} value, or {@link Long#MAX_VALUE} for none
   * @param interruptible whether an interrupt ends the wait; if not, the interrupt status is kept
   * @return false if the deadline passed with the word unchanged, true otherwise
   * @throws InterruptedException if interruptible and interrupted
   * @throws IllegalStateException if the memory was closed in this process
   */
  public boolean await(int expected, long deadline, boolean interruptible)
      throws InterruptedException {
    try {
      return Thread.currentThread().isVirtual()
          ? awaitVirtual(expected, deadline, interruptible)
          : awaitPlatform(expected, deadline, interruptible);
    } catch (IllegalStateException e) {
      if (memory.scope().isAlive()) {
        throw e; // this word closed (its own message), or not about the memory at all
      }
      // the memory's arena says "Already closed": say what happened, on either path
      throw new IllegalStateException("closed in this process", e);
    } finally {
      Reference.reachabilityFence(anchor); // else its Cleaner could unmap the word mid-wait
    }
  }

  private boolean awaitPlatform(int expected, long deadline, boolean interruptible)
      throws InterruptedException {
    boolean interrupted = false;
    try {
      Scratch s = Scratch.get();
      MemorySegment ts = s.small;
      for (; ; ) {
        if (get() != expected) {
          return true;
        }
        if (Thread.interrupted()) {
          if (interruptible) {
            throw new InterruptedException();
          }
          interrupted = true;
        }
        long left = deadline == Long.MAX_VALUE ? SLICE_NANOS : deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        long slice = Math.min(left, SLICE_NANOS);
        ts.set(ValueLayout.JAVA_LONG, 0, slice / 1_000_000_000L);
        ts.set(ValueLayout.JAVA_LONG, 8, slice % 1_000_000_000L);
        long r = Libc.futex(s.errno, address, Linux.FUTEX_WAIT, expected, ts);
        if (r == 0) {
          continue; // woken: look again
        }
        int err = Native.errno(s.errno);
        if (err != Linux.EAGAIN && err != Linux.ETIMEDOUT && err != Linux.EINTR) {
          throw new IllegalStateException("futex wait failed: error " + err);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private boolean awaitVirtual(int expected, long deadline, boolean interruptible)
      throws InterruptedException {
    boolean interrupted = false;
    local.lock();
    try {
      if (closed) {
        throw new IllegalStateException("closed in this process");
      }
      if (watcher == null) {
        Thread t = watcherFactory.newThread(this::watch);
        t.start(); // may fail (no native thread): then nothing here has changed
        watcher = t;
      } else {
        work.signal();
      }
      virtualWaiters++; // after the watcher is sure: a failed start must not leave it raised
      try {
        for (; ; ) {
          if (get() != expected) {
            return true;
          }
          if (closed) {
            throw new IllegalStateException("closed in this process");
          }
          long left = deadline == Long.MAX_VALUE ? Long.MAX_VALUE : deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          try {
            if (left == Long.MAX_VALUE) {
              changed.await();
            } else {
              changed.awaitNanos(left);
            }
          } catch (InterruptedException e) {
            if (interruptible) {
              throw e;
            }
            interrupted = true;
          }
        }
      } finally {
        virtualWaiters--;
      }
    } finally {
      local.unlock();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The watcher: sleeps on the futex while virtual threads wait, and wakes them. */
  private void watch() {
    Scratch s = Scratch.get();
    MemorySegment ts = s.small;
    boolean slept = false;
    int last = 0; // the value of the last sleep
    for (; ; ) {
      int seen;
      local.lock();
      try {
        long idle = IDLE_NANOS;
        while (virtualWaiters == 0 && !closed) {
          if (idle <= 0) {
            watcher = null;
            return;
          }
          try {
            idle = work.awaitNanos(idle);
          } catch (InterruptedException e) {
            idle = 0; // nobody interrupts it; end if still idle
          }
        }
        if (closed) {
          watcher = null;
          changed.signalAll();
          return;
        }
        try {
          seen = get();
        } catch (IllegalStateException gone) { // the memory was closed under us
          watcher = null;
          changed.signalAll();
          return;
        }
        if (!slept || seen != last) {
          // it changed while no sleep watched it (or this watcher just started): a waiter may
          // have seen the old value and parked, so all look again
          changed.signalAll();
        }
        slept = true;
        last = seen;
      } finally {
        local.unlock();
      }
      ts.set(ValueLayout.JAVA_LONG, 0, 0L);
      ts.set(ValueLayout.JAVA_LONG, 8, SLICE_NANOS);
      long r = Libc.futex(s.errno, address, Linux.FUTEX_WAIT, seen, ts);
      if (r != 0 && Native.errno(s.errno) == Linux.ETIMEDOUT) {
        continue; // nothing happened: the waiters sleep on
      }
      local.lock();
      try {
        changed.signalAll();
      } finally {
        local.unlock();
      }
    }
  }

  /**
   * The virtual threads of this process waiting on this word now (for tests).
   *
   * @return the count
   */
  int virtualWaiters() {
    local.lock();
    try {
      return virtualWaiters;
    } finally {
      local.unlock();
    }
  }

  /**
   * Ends this word's use in this process: the watcher thread ends and waiting virtual threads get
   * {@link IllegalStateException}. Call before the memory is unmapped.
   */
  public void close() {
    local.lock();
    try {
      closed = true;
      work.signalAll();
      changed.signalAll();
    } finally {
      local.unlock();
    }
  }
}
