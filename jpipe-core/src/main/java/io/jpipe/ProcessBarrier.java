package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.sync.SharedCells;
import io.jpipe.internal.sync.SharedWord;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectStreamException;
import java.io.Serial;
import java.io.Serializable;
import java.time.Duration;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A barrier for a number of parties in any processes: CPython's {@code multiprocessing.Barrier},
 * with the behaviour of {@link java.util.concurrent.CyclicBarrier}. Pass it to child processes as a
 * {@link ChildProcess} argument.
 *
 * <pre>{@code
 * ProcessBarrier start = ProcessBarrier.create(3);      // CPython: Barrier(3)
 * ChildProcess.of(Demo::runner, start).start();
 * ChildProcess.of(Demo::runner, start).start();
 * start.await();                                        // barrier.wait()
 * }</pre>
 *
 * <p>{@link #await()} waits until all parties have called it, then all go on and the barrier is
 * ready for the next round. The last to arrive runs the action, if any, before the others are
 * released (CPython's {@code action}); the action goes to child processes with the barrier, so it
 * must be {@link Serializable}, e.g. {@code (Runnable & Serializable) () -> ...}. The barrier
 * breaks, as a {@code CyclicBarrier} does, when a waiting thread times out or is interrupted, when
 * the action throws, or on {@link #reset()}: the others then get {@link BrokenBarrierException}
 * (CPython's {@code BrokenBarrierError}), and so do later waits until {@link #reset()}.
 *
 * <p>Its state (the round, the arrivals, whether broken) is shared memory changed under a {@link
 * ProcessLock}; waiters sleep on the round's word ({@code futex}) and virtual threads park.
 *
 * <h2>A party that dies</h2>
 *
 * <p>A party that dies while waiting stays counted: when the others arrive the barrier trips as if
 * it were there. A process that dies inside the barrier's bookkeeping (holding its lock, or running
 * the action) breaks the barrier: the next party to enter sees the lock's {@linkplain
 * ProcessLock#previousOwnerDied() previous owner died} and breaks it, so the waiters get {@link
 * BrokenBarrierException} rather than wait for a round that cannot be trusted. A party that dies
 * before it arrives never arrives: the others wait until their timeout, as with any party that does
 * not come; give waits a timeout if a party can die.
 */
public final class ProcessBarrier implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Shared state: round, arrivals, the round that a break ended, broken flag, parties. */
  static final int BYTES = 24;

  private final transient SharedCells cells;
  private final transient SharedWord round;
  private final transient SharedWord count;
  private final transient SharedWord brokenRound;
  private final transient SharedWord broken;
  private final transient int parties;
  private final transient Runnable action;

  ProcessBarrier(SharedCells cells, Runnable action) {
    this.cells = cells;
    this.round = cells.word(0);
    this.count = cells.word(4);
    this.brokenRound = cells.word(8);
    this.broken = cells.word(12);
    this.parties = cells.word(16).get();
    this.action = action;
  }

  /**
   * Creates a barrier for {@code parties} parties, without an action.
   *
   * @param parties how many must call {@link #await()} to trip it, at least 1
   * @return the barrier
   * @throws IllegalArgumentException if {@code parties} is less than 1
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessBarrier create(int parties) throws IOException {
    return create(parties, null);
  }

  /**
   * Creates a barrier for {@code parties} parties whose last arrival runs {@code action} (in its
   * own process) before the others are released.
   *
   * @param parties how many must call {@link #await()} to trip it, at least 1
   * @param action what to run when it trips, or null; {@link Serializable} if the barrier goes to a
   *     child process
   * @return the barrier
   * @throws IllegalArgumentException if {@code parties} is less than 1
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessBarrier create(int parties, Runnable action) throws IOException {
    if (parties < 1) {
      throw new IllegalArgumentException("parties < 1: " + parties);
    }
    SharedCells cells = SharedCells.create(BYTES);
    cells.word(16).set(parties);
    return new ProcessBarrier(cells, action);
  }

  /**
   * Waits until all parties have arrived (CPython's {@code wait()}).
   *
   * @return the arrival index: {@code getParties() - 1} for the first to arrive, 0 for the last
   * @throws InterruptedException if interrupted while waiting (the barrier breaks)
   * @throws BrokenBarrierException if the barrier is or becomes broken while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public int await() throws InterruptedException, BrokenBarrierException {
    try {
      return doAwait(Long.MAX_VALUE);
    } catch (TimeoutException e) {
      throw new AssertionError(e); // no deadline
    }
  }

  /**
   * Waits until all parties have arrived or the time is up (CPython's {@code wait(timeout)}).
   *
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return the arrival index: {@code getParties() - 1} for the first to arrive, 0 for the last
   * @throws InterruptedException if interrupted while waiting (the barrier breaks)
   * @throws BrokenBarrierException if the barrier is or becomes broken while waiting
   * @throws TimeoutException if the time ran out (the barrier breaks)
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public int await(long time, TimeUnit unit)
      throws InterruptedException, BrokenBarrierException, TimeoutException {
    return doAwait(SharedWord.deadline(unit.toNanos(time)));
  }

  /**
   * Waits until all parties have arrived or {@code timeout} has passed.
   *
   * @param timeout the longest wait
   * @return the arrival index: {@code getParties() - 1} for the first to arrive, 0 for the last
   * @throws InterruptedException if interrupted while waiting (the barrier breaks)
   * @throws BrokenBarrierException if the barrier is or becomes broken while waiting
   * @throws TimeoutException if the time ran out (the barrier breaks)
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public int await(Duration timeout)
      throws InterruptedException, BrokenBarrierException, TimeoutException {
    return doAwait(SharedWord.deadline(Durations.toNanos(timeout)));
  }

  /**
   * The lock that guards the shared state (for tests: once it is free, a party counted as waiting
   * has left the bookkeeping).
   */
  ProcessLock lock() {
    return cells.lock();
  }

  /** Takes the lock; a holder that died mid-update breaks the barrier. */
  private void enter() {
    ProcessLock lock = cells.lock();
    lock.lock();
    if (lock.previousOwnerDied()) {
      breakBarrier();
    }
  }

  private void exit() {
    cells.lock().unlock();
  }

  private int doAwait(long deadline)
      throws InterruptedException, BrokenBarrierException, TimeoutException {
    int myRound;
    int index;
    enter();
    try {
      myRound = round.get();
      if (broken.get() != 0) {
        throw new BrokenBarrierException();
      }
      if (Thread.interrupted()) {
        breakBarrier();
        throw new InterruptedException();
      }
      int arrived = count.get();
      index = parties - 1 - arrived;
      if (index == 0) { // the last: trip
        boolean ran = false;
        try {
          if (action != null) {
            action.run();
          }
          ran = true;
          count.set(0);
          round.getAndAdd(1);
          round.wakeAll();
          return 0;
        } finally {
          if (!ran) {
            breakBarrier();
          }
        }
      }
      count.set(arrived + 1);
    } finally {
      exit();
    }
    boolean changed;
    try {
      changed = round.await(myRound, deadline, true);
    } catch (InterruptedException e) {
      enter();
      try {
        if (round.get() == myRound) {
          breakBarrier();
          throw e;
        }
      } finally {
        exit();
      }
      Thread.currentThread().interrupt(); // tripped meanwhile: keep the interrupt, go on
      changed = true;
    }
    if (!changed) {
      enter();
      try {
        if (round.get() == myRound) {
          breakBarrier();
          throw new TimeoutException();
        }
      } finally {
        exit();
      }
    }
    if (brokenRound.get() == myRound + 1) {
      throw new BrokenBarrierException();
    }
    return index;
  }

  /** Holding the lock: ends the round as broken and wakes its waiters. */
  private void breakBarrier() {
    broken.set(1);
    count.set(0);
    brokenRound.set(round.get() + 1);
    round.getAndAdd(1);
    round.wakeAll();
  }

  /**
   * Breaks the barrier for the threads that wait now (they get {@link BrokenBarrierException}) and
   * makes it ready for a new round (CPython's {@code reset()}).
   */
  public void reset() {
    enter();
    try {
      if (count.get() > 0) {
        breakBarrier();
      } else if (broken.get() == 0) {
        return;
      }
      broken.set(0);
    } finally {
      exit();
    }
  }

  /**
   * Whether the barrier is broken (CPython's {@code broken}).
   *
   * @return true if broken and not reset since
   */
  public boolean isBroken() {
    return broken.get() != 0;
  }

  /**
   * The number of parties that must arrive to trip the barrier (CPython's {@code parties}).
   *
   * @return the parties
   */
  public int getParties() {
    return parties;
  }

  /**
   * The number of parties waiting now (CPython's {@code n_waiting}).
   *
   * @return the waiting parties
   */
  public int getNumberWaiting() {
    return count.get();
  }

  /**
   * Releases this process's mapping of the barrier; it lives on in processes that still have it.
   */
  @Override
  public void close() {
    if (!cells.isClosed()) {
      round.close();
      cells.close();
    }
  }

  @Override
  public String toString() {
    return cells.isClosed()
        ? "ProcessBarrier[closed]"
        : "ProcessBarrier[" + getNumberWaiting() + "/" + parties + (isBroken() ? ", broken]" : "]");
  }

  /**
   * Goes to a child process as its memory and its action.
   *
   * @return the stand-in that is serialized
   * @throws NotSerializableException if the action is not serializable
   */
  @Serial
  private Object writeReplace() throws ObjectStreamException {
    if (action != null && !(action instanceof Serializable)) {
      throw new NotSerializableException(
          "the barrier's action (" + action.getClass().getName() + ") is not Serializable");
    }
    return new SyncForm(SyncForm.Kind.BARRIER, cells.lock(), action);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a ProcessBarrier is serialized as its memory");
  }
}
