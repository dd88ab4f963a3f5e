package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.sync.SharedCells;
import io.jpipe.internal.sync.SharedWord;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A counting semaphore shared by processes: CPython's {@code multiprocessing.Semaphore}, or its
 * {@code BoundedSemaphore} when made by {@link #createBounded(int)}, with the names of {@link
 * java.util.concurrent.Semaphore}. Pass it to child processes as a {@link ChildProcess} argument.
 *
 * <pre>{@code
 * ProcessSemaphore slots = ProcessSemaphore.create(2);   // CPython: Semaphore(2)
 * ChildProcess.of(Demo::worker, slots).start();
 * slots.acquire();                                       // sem.acquire()
 * try {
 *   ...
 * } finally {
 *   slots.release();                                     // sem.release()
 * }
 * }</pre>
 *
 * <p>The permits are one word of shared memory, taken and given back by the processor's atomic
 * instructions, without a lock; a thread with none to take sleeps on the word ({@code futex}) until
 * a release changes it. Permits are not owned: any thread of any process may release. Virtual
 * threads park. Acquiring is not fair: a thread that comes later may get a permit before one that
 * waits.
 *
 * <h2>A process that dies</h2>
 *
 * <p>A permit held by a process that dies is <em>lost</em>, as with CPython's semaphores: nothing
 * records who holds permits, so the count stays one lower until someone releases for the dead
 * process (a bounded semaphore then never reaches its bound again unless that is done). A process
 * that dies waiting takes nothing and leaves nothing behind; the others go on.
 */
public final class ProcessSemaphore implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Shared state: the permits, the number of sleepers, the bound (or -1). */
  static final int BYTES = 16;

  private final transient SharedCells cells;
  private final transient SharedWord permits;
  private final transient SharedWord sleepers;
  private final transient int bound;

  /** Guards {@code localSleepers} and the closing of the memory against sleepers. */
  private final transient ReentrantLock guard = new ReentrantLock();

  /** Guarded by {@code guard}: this process's sleepers counted in {@code sleepers}. */
  private transient int localSleepers;

  ProcessSemaphore(SharedCells cells) {
    this.cells = cells;
    this.permits = cells.word(0);
    this.sleepers = cells.word(4);
    this.bound = cells.word(8).get();
  }

  /**
   * Creates a semaphore with {@code permits} permits (CPython's {@code Semaphore(value)}).
   *
   * @param permits the initial number of permits, at least 0
   * @return the semaphore
   * @throws IllegalArgumentException if {@code permits} is negative
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessSemaphore create(int permits) throws IOException {
    return create(permits, -1);
  }

  /**
   * Creates a bounded semaphore (CPython's {@code BoundedSemaphore(value)}): a release that would
   * make more permits than {@code permits} throws {@link IllegalStateException}.
   *
   * @param permits the initial, and largest, number of permits, at least 0
   * @return the semaphore
   * @throws IllegalArgumentException if {@code permits} is negative
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessSemaphore createBounded(int permits) throws IOException {
    return create(permits, permits);
  }

  private static ProcessSemaphore create(int permits, int bound) throws IOException {
    if (permits < 0) {
      throw new IllegalArgumentException("permits < 0: " + permits);
    }
    SharedCells cells = SharedCells.create(BYTES);
    cells.word(0).set(permits);
    cells.word(8).set(bound);
    return new ProcessSemaphore(cells);
  }

  /**
   * Takes a permit, waiting as long as it takes (CPython's {@code acquire()}).
   *
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public void acquire() throws InterruptedException {
    take(Long.MAX_VALUE, true);
  }

  /**
   * Takes a permit if one is free now (CPython's {@code acquire(False)}).
   *
   * @return true if taken
   */
  public boolean tryAcquire() {
    for (int p = permits.get(); p > 0; p = permits.get()) {
      if (permits.compareAndSet(p, p - 1)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Takes a permit if one becomes free within the time given (CPython's {@code acquire(True,
   * timeout)}).
   *
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return true if taken, false if the time ran out
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public boolean tryAcquire(long time, TimeUnit unit) throws InterruptedException {
    return take(SharedWord.deadline(unit.toNanos(time)), true);
  }

  /**
   * Takes a permit if one becomes free within {@code timeout}.
   *
   * @param timeout the longest wait
   * @return true if taken, false if the time ran out
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public boolean tryAcquire(Duration timeout) throws InterruptedException {
    return take(SharedWord.deadline(Durations.toNanos(timeout)), true);
  }

  private boolean take(long deadline, boolean interruptible) throws InterruptedException {
    if (interruptible && Thread.interrupted()) {
      throw new InterruptedException();
    }
    for (; ; ) {
      if (tryAcquire()) {
        return true;
      }
      if (deadline != Long.MAX_VALUE && System.nanoTime() - deadline >= 0) {
        return false;
      }
      sleep(deadline, interruptible);
    }
  }

  /**
   * Sleeps once, counted in the shared {@code sleepers} word. The count this process added is taken
   * back by the sleeper, or by {@link #close()} if it closes the memory first, never lost: a count
   * left raised would make every later release in every process wake for nobody.
   */
  private void sleep(long deadline, boolean interruptible) throws InterruptedException {
    guard.lock();
    try {
      if (cells.isClosed()) {
        throw new IllegalStateException("closed in this process");
      }
      sleepers.getAndAdd(1); // before sleeping: a release that follows sees it and wakes
      localSleepers++;
    } finally {
      guard.unlock();
    }
    try {
      permits.await(0, deadline, interruptible);
    } finally {
      guard.lock();
      try {
        if (localSleepers > 0) { // else close() took this sleeper's count back
          localSleepers--;
          sleepers.getAndAdd(-1);
        }
      } finally {
        guard.unlock();
      }
    }
  }

  /**
   * The number of sleepers of every process, as the shared word says (for tests).
   *
   * @return the count
   */
  int sleepers() {
    return sleepers.get();
  }

  /**
   * Gives back a permit, waking a waiter of any process (CPython's {@code release()}). Any thread
   * may release, not only one that acquired.
   *
   * @throws IllegalStateException if the semaphore is bounded and already has as many permits as it
   *     started with (CPython's {@code ValueError}), or if the count would overflow
   */
  public void release() {
    for (; ; ) {
      int p = permits.get();
      if (bound >= 0 && p >= bound) {
        throw new IllegalStateException("semaphore released too many times (bound " + bound + ")");
      }
      if (p == Integer.MAX_VALUE) {
        throw new IllegalStateException("maximum permit count exceeded");
      }
      if (permits.compareAndSet(p, p + 1)) {
        break;
      }
    }
    if (sleepers.get() > 0) {
      permits.wakeAll();
    }
  }

  /**
   * The number of free permits now (CPython's {@code get_value()}).
   *
   * @return the permits
   */
  public int availablePermits() {
    return permits.get();
  }

  /**
   * Whether releases are bounded by the initial number of permits ({@link #createBounded(int)}).
   *
   * @return true for a bounded semaphore
   */
  public boolean isBounded() {
    return bound >= 0;
  }

  /**
   * Releases this process's mapping of the semaphore; it lives on in processes that still have it.
   */
  @Override
  public void close() {
    guard.lock();
    try {
      if (!cells.isClosed()) {
        sleepers.getAndAdd(-localSleepers); // while it can: its sleepers cannot after the close
        localSleepers = 0;
        permits.close();
        cells.close();
      }
    } finally {
      guard.unlock();
    }
  }

  @Override
  public String toString() {
    return cells.isClosed()
        ? "ProcessSemaphore[closed]"
        : "ProcessSemaphore[permits=" + availablePermits() + (isBounded() ? ", bounded]" : "]");
  }

  /**
   * Goes to a child process as its memory: the child gets the same permits.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new SyncForm(SyncForm.Kind.SEMAPHORE, cells.lock(), null);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a ProcessSemaphore is serialized as its memory");
  }
}
