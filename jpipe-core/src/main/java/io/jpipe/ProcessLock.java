package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.sync.MutexAgent;
import io.jpipe.internal.sync.SharedMutex;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * A lock shared by processes (CPython's {@code multiprocessing.Lock}), usable wherever Java code
 * expects a {@link Lock}: several processes that send on, or receive from, one end of a pipe take
 * it around each message.
 *
 * <pre>{@code
 * ProcessLock lock = ProcessLock.create();
 * ChildProcess.of(Demo::consumer, pipe.conn1(), lock).start();   // the child gets the same lock
 * lock.lock();
 * try {
 *   item = conn.recv();
 * } finally {
 *   lock.unlock();
 * }
 * }</pre>
 *
 * <p>It is a robust, process-shared {@code pthread_mutex_t} in a page of shared memory, passed to
 * child processes as a {@link ChildProcess} argument. It belongs to the thread that locked it, as a
 * {@link java.util.concurrent.locks.ReentrantLock} does, but a lock from {@link #create()} is not
 * reentrant (as CPython's {@code Lock} is not): locking it again from the holding thread throws
 * {@link IllegalMonitorStateException}, and only the holder may unlock. A lock from {@link
 * #createReentrant()} is CPython's {@code RLock}: the holder may lock it again, and it is free once
 * unlocked as many times; a child process gets it reentrant too.
 *
 * <p>{@link #newCondition()} gives a {@link Condition} shared by processes (CPython's {@code
 * multiprocessing.Condition}), a {@link ProcessCondition}.
 *
 * <p>Virtual threads may use it too, and park while they wait: a pthread mutex belongs to an OS
 * thread, so a virtual thread's hold is taken and given back by a platform thread of the lock's own
 * (started on first use by a virtual thread, ended when idle), while the virtual threads of this
 * JVM queue in a {@link java.util.concurrent.locks.ReentrantLock}.
 *
 * <h2>A holder that dies</h2>
 *
 * <p>If a process (or thread) dies while holding the lock, the others are not deadlocked: the next
 * {@code lock} succeeds, and {@link #previousOwnerDied()} then returns {@code true} until that
 * holder unlocks. What the dead holder was doing may be half done (for a pipe: part of a message
 * may have been read or written), so check it before going on.
 */
public final class ProcessLock implements Lock, AutoCloseable {
  static {
    io.jpipe.internal.Access.setLockAccess(
        new io.jpipe.internal.Access.LockAccess() {
          @Override
          public SharedMutex mutex(ProcessLock lock) {
            return lock.mutex;
          }

          @Override
          public ProcessLock wrap(SharedMutex mutex) {
            return new ProcessLock(mutex);
          }
        });
  }

  /** Waits are cut into slices this long, to notice interrupts and close. */
  private static final long SLICE_NANOS = 50_000_000L;

  private final SharedMutex mutex;

  /** Whether the holder may lock again (read from the shared page, so a child knows it too). */
  private final boolean reentrant;

  /** How many times the holder has locked: 1 for a plain lock. Touched by the holder only. */
  private int holds;

  /** Takes the mutex for virtual threads; created on first use by one. */
  private volatile MutexAgent agent;

  /** Whether the current hold was taken over from a dead owner. Written by the holder only. */
  private volatile boolean ownerDied;

  private ProcessLock(SharedMutex mutex) {
    this.mutex = mutex;
    this.reentrant = (mutex.flags() & SharedMutex.REENTRANT) != 0;
  }

  /**
   * Creates a new, unlocked lock.
   *
   * @return the lock
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessLock create() throws IOException {
    return new ProcessLock(SharedMutex.create());
  }

  /**
   * Creates a new, unlocked reentrant lock (CPython's {@code multiprocessing.RLock}): the holding
   * thread may lock it again, and must unlock it as many times before another thread, of any
   * process, can have it.
   *
   * @return the lock
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessLock createReentrant() throws IOException {
    return new ProcessLock(SharedMutex.create(0, SharedMutex.REENTRANT));
  }

  /**
   * Whether the holder may lock this lock again ({@link #createReentrant()}).
   *
   * @return true for a reentrant lock
   */
  public boolean isReentrant() {
    return reentrant;
  }

  /**
   * Whether the current thread holds this lock.
   *
   * @return true if it does
   */
  public boolean isHeldByCurrentThread() {
    if (Thread.currentThread().isVirtual()) {
      MutexAgent a = agent;
      return a != null && a.heldByCurrentThread();
    }
    return mutex.heldByCurrentThread();
  }

  /** For a reentrant lock its holder locks again: true if that was the case. */
  private boolean again() {
    if (reentrant && isHeldByCurrentThread()) {
      if (holds == Integer.MAX_VALUE) {
        throw new Error("maximum lock count exceeded");
      }
      holds++;
      return true;
    }
    return false;
  }

  /**
   * Locks, waiting as long as it takes. Interrupts do not stop the wait (the interrupt status is
   * kept).
   *
   * @throws IllegalMonitorStateException if this thread already holds the lock, and it is not
   *     reentrant
   * @throws IllegalStateException if the lock is closed in this process
   */
  @Override
  public void lock() {
    if (again()) {
      return;
    }
    if (Thread.currentThread().isVirtual()) {
      try {
        viaAgent(Long.MAX_VALUE, false);
      } catch (InterruptedException e) {
        throw new AssertionError(e); // not interruptible
      }
      return;
    }
    boolean interrupted = false;
    try {
      while (!acquire(System.nanoTime() + SLICE_NANOS)) {
        if (Thread.interrupted()) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Locks unless the thread is interrupted (noticed within 50 ms while waiting).
   *
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalMonitorStateException if this thread already holds the lock, and it is not
   *     reentrant
   */
  @Override
  public void lockInterruptibly() throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    if (again()) {
      return;
    }
    if (Thread.currentThread().isVirtual()) {
      viaAgent(Long.MAX_VALUE, true);
      return;
    }
    while (!acquire(System.nanoTime() + SLICE_NANOS)) {
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
    }
  }

  /**
   * Locks if the lock is free now.
   *
   * @return true if this thread now holds the lock
   */
  @Override
  public boolean tryLock() {
    if (again()) {
      return true;
    }
    int r;
    try {
      r = Thread.currentThread().isVirtual() ? agent().tryLock() : mutex.tryLock();
    } catch (IOException e) {
      throw closed(e);
    }
    return held(r, true);
  }

  /**
   * Locks if the lock becomes free within the time given.
   *
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return true if this thread now holds the lock, false if the time ran out
   * @throws InterruptedException if interrupted before or while waiting
   */
  @Override
  public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    if (again()) {
      return true;
    }
    long start = System.nanoTime();
    long timeout = Math.max(0, unit.toNanos(time)); // saturates: Long.MAX_VALUE is forever
    if (Thread.currentThread().isVirtual()) {
      return viaAgent(timeout >= Long.MAX_VALUE / 4 ? Long.MAX_VALUE : start + timeout, true);
    }
    for (; ; ) {
      long left = timeout - (System.nanoTime() - start);
      if (acquire(System.nanoTime() + Math.max(0, Math.min(left, SLICE_NANOS)))) {
        return true;
      }
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      if (timeout - (System.nanoTime() - start) <= 0) {
        return false;
      }
    }
  }

  /**
   * Locks if the lock becomes free within {@code timeout}.
   *
   * @param timeout the longest wait
   * @return true if this thread now holds the lock
   * @throws InterruptedException if interrupted before or while waiting
   */
  public boolean tryLock(Duration timeout) throws InterruptedException {
    return tryLock(Durations.toNanos(timeout), TimeUnit.NANOSECONDS);
  }

  /**
   * Unlocks (for a reentrant lock: once; it is free after as many unlocks as locks).
   *
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   */
  @Override
  public void unlock() {
    if (reentrant && holds > 1 && isHeldByCurrentThread()) {
      holds--;
      return;
    }
    release();
  }

  /** Ends the hold, however many times it was taken. */
  private void release() {
    // The holder clears its state before the unlock: after it, another thread of this process
    // may already hold the lock and have set them (a late clear would wipe its holds).
    boolean mine = isHeldByCurrentThread();
    boolean died = ownerDied;
    int h = holds;
    if (mine) {
      ownerDied = false;
      holds = 0;
    }
    int r;
    try {
      r = Thread.currentThread().isVirtual() ? agent().unlock() : mutex.unlock();
    } catch (IOException e) {
      restore(mine, died, h);
      throw closed(e);
    } catch (RuntimeException | Error e) {
      restore(mine, died, h);
      throw e;
    }
    if (r != SharedMutex.OK) {
      restore(mine, died, h);
    }
    if (r == SharedMutex.NOT_OWNER) {
      throw new IllegalMonitorStateException("this thread does not hold the lock");
    }
    if (r != SharedMutex.OK) {
      throw new IllegalStateException("pthread_mutex_unlock failed: error " + r);
    }
  }

  /** After an unlock that failed: the holder still holds, as before. */
  private void restore(boolean mine, boolean died, int h) {
    if (mine) {
      ownerDied = died;
      holds = h;
    }
  }

  /**
   * For a condition's wait: frees the lock however many times the current thread holds it.
   *
   * @return the number of holds, to give to {@link #reacquire(int)}
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   */
  int fullyRelease() {
    if (!isHeldByCurrentThread()) {
      throw new IllegalMonitorStateException("this thread does not hold the lock");
    }
    int h = holds;
    release();
    return h;
  }

  /**
   * After a condition's wait: locks again, not interruptibly, with the holds given.
   *
   * @param h what {@link #fullyRelease()} returned
   */
  void reacquire(int h) {
    lock();
    holds = h;
  }

  /**
   * Whether the current hold (by a thread of this process) was taken over from a holder that died
   * while holding the lock. True from that {@code lock} until the matching {@code unlock}; the
   * state the dead holder protected may be half updated. Meant for the holding thread.
   *
   * @return true if the previous holder died holding the lock
   */
  public boolean previousOwnerDied() {
    return ownerDied;
  }

  /**
   * A new condition of this lock, shared by processes (CPython's {@code multiprocessing.Condition}
   * built on this lock). It has shared memory of its own: pass it to child processes with (or
   * without) the lock, and {@linkplain ProcessCondition#close() close} it when done.
   *
   * @return the condition
   * @throws UncheckedIOException if shared memory cannot be had
   */
  @Override
  public ProcessCondition newCondition() {
    try {
      return ProcessCondition.create(this);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Releases this process's mapping of the lock. The lock lives on in processes that still have it;
   * here it can no longer be used. Also done when the lock is garbage-collected.
   */
  @Override
  public void close() {
    MutexAgent a;
    synchronized (this) {
      a = agent;
    }
    if (a != null) {
      a.close(); // gives back a hold it took for a virtual thread
    }
    mutex.close();
  }

  @Override
  public String toString() {
    return "ProcessLock[" + (mutex.isClosed() ? "closed" : "fd=" + mutex.channel().fd()) + "]";
  }

  /** One timed attempt; true if held now. */
  private boolean acquire(long deadlineNanos) {
    int r;
    try {
      r = mutex.lockUntil(deadlineNanos);
    } catch (IOException e) {
      throw closed(e);
    }
    return held(r, false);
  }

  private boolean held(int r, boolean trying) {
    switch (r) {
      case SharedMutex.OK -> {
        ownerDied = false;
        holds = 1;
        return true;
      }
      case SharedMutex.OWNER_DIED -> {
        ownerDied = true;
        holds = 1;
        return true;
      }
      case SharedMutex.BUSY -> {
        return false;
      }
      case SharedMutex.DEADLOCK -> {
        if (trying) {
          return false;
        }
        throw new IllegalMonitorStateException(
            "this thread already holds the lock (ProcessLock is not reentrant)");
      }
      default -> throw new IllegalStateException("pthread mutex error " + r);
    }
  }

  /**
   * A virtual thread's lock: through the agent, parked while it waits.
   *
   * @param deadline a {@link System#nanoTime} value, or {@link Long#MAX_VALUE} for none
   * @return true if held now, false if the time ran out
   */
  private boolean viaAgent(long deadline, boolean interruptible) throws InterruptedException {
    int r;
    try {
      r = agent().lock(deadline, interruptible);
    } catch (IOException e) {
      throw closed(e);
    }
    return held(r, false);
  }

  private MutexAgent agent() throws java.nio.channels.ClosedChannelException {
    MutexAgent a = agent;
    if (a == null) {
      synchronized (this) {
        if (mutex.isClosed()) {
          throw new java.nio.channels.ClosedChannelException();
        }
        a = agent;
        if (a == null) {
          agent = a = new MutexAgent(mutex);
        }
      }
    }
    return a;
  }

  private static RuntimeException closed(IOException e) {
    if (e instanceof java.nio.channels.ClosedChannelException) {
      return new IllegalStateException("the lock is closed in this process", e);
    }
    return new UncheckedIOException(e);
  }
}
