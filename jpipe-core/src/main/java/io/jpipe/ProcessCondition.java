package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.sync.SharedCells;
import io.jpipe.internal.sync.SharedWord;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Date;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;

/**
 * A {@link Condition} of a {@link ProcessLock}, shared by processes: CPython's {@code
 * multiprocessing.Condition}. Get one from {@link ProcessLock#newCondition()}; pass it to child
 * processes as a {@link ChildProcess} argument (its lock goes with it).
 *
 * <pre>{@code
 * ProcessLock lock = ProcessLock.create();
 * ProcessCondition ready = lock.newCondition();
 * ChildProcess.of(Demo::worker, lock, ready, flag).start();
 * lock.lock();
 * try {
 *   while (flag.get() == 0) {
 *     ready.await();          // CPython: cond.wait() (or cond.wait_for(predicate))
 *   }
 * } finally {
 *   lock.unlock();
 * }
 * }</pre>
 *
 * <p>As with any {@code Condition}, wait in a loop that checks what you wait for, holding the lock:
 * {@link #signal()} (CPython's {@code notify()}) wakes one waiter of any process, {@link
 * #signalAll()} ({@code notify_all()}) all that wait at that moment, and a wait may also end
 * spuriously. Waits release the lock however many times a {@linkplain ProcessLock#createReentrant()
 * reentrant} lock is held, and take it back as often. Interrupts end {@link #await()} and the timed
 * waits (within 50 ms on a platform thread); virtual threads park.
 *
 * <p>The shared state is a word that every signal changes ({@code futex}) and two counts (waiters,
 * signals not yet taken), all changed holding the lock.
 *
 * <h2>A waiter or signaller that dies</h2>
 *
 * <p>A process that dies holding the lock is the lock's business: the next holder sees {@link
 * ProcessLock#previousOwnerDied()}. A process that dies while waiting stays counted as a waiter, so
 * a later signal may be given to it and taken by no one: each such death can turn one later {@link
 * #signal()} into a spurious wake-up of a thread that waits afterwards, never stop one that waits
 * from being woken by {@link #signalAll()}, and never block anyone.
 */
public final class ProcessCondition implements Condition, AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Shared state: the sequence word, the number of waiters, signals not yet taken. */
  static final int BYTES = 16;

  private static final long SEQ = 0;
  private static final long WAITERS = 4;
  private static final long SIGNALS = 8;

  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  private final transient ProcessLock lock;
  private final transient SharedCells cells;
  private final transient SharedWord seq;

  ProcessCondition(ProcessLock lock, SharedCells cells) {
    this.lock = lock;
    this.cells = cells;
    this.seq = cells.word(SEQ);
  }

  static ProcessCondition create(ProcessLock lock) throws IOException {
    return new ProcessCondition(lock, SharedCells.create(BYTES));
  }

  /**
   * The lock this condition belongs to.
   *
   * @return the lock
   */
  public ProcessLock lock() {
    return lock;
  }

  private int get(long at) {
    return (int) INT.getVolatile(cells.segment(), at);
  }

  private void put(long at, int v) {
    INT.setVolatile(cells.segment(), at, v);
  }

  private void checkHeld() {
    if (!lock.isHeldByCurrentThread()) {
      throw new IllegalMonitorStateException("the condition's lock is not held by this thread");
    }
  }

  /**
   * Waits until signalled or interrupted; the lock is released meanwhile and held again on return
   * (CPython's {@code wait()}).
   *
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  @Override
  public void await() throws InterruptedException {
    doAwait(Long.MAX_VALUE, true);
  }

  /**
   * Waits until signalled; interrupts do not end the wait (the interrupt status is kept).
   *
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  @Override
  public void awaitUninterruptibly() {
    try {
      doAwait(Long.MAX_VALUE, false);
    } catch (InterruptedException e) {
      throw new AssertionError(e); // not interruptible
    }
  }

  /**
   * Waits until signalled, interrupted or the time is up.
   *
   * @param nanosTimeout the longest wait
   * @return an estimate of the time left; zero or less if the time ran out
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  @Override
  public long awaitNanos(long nanosTimeout) throws InterruptedException {
    long deadline = SharedWord.deadline(nanosTimeout);
    boolean signalled = doAwait(deadline, true);
    long left = deadline == Long.MAX_VALUE ? Long.MAX_VALUE : deadline - System.nanoTime();
    return signalled ? Math.max(1, left) : Math.min(0, left);
  }

  /**
   * Waits until signalled, interrupted or the time is up (CPython's {@code wait(timeout)}).
   *
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return false if the time ran out, true if signalled
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  @Override
  public boolean await(long time, TimeUnit unit) throws InterruptedException {
    return doAwait(SharedWord.deadline(unit.toNanos(time)), true);
  }

  /**
   * Waits until signalled, interrupted or the time is up.
   *
   * @param timeout the longest wait
   * @return false if the time ran out, true if signalled
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public boolean await(Duration timeout) throws InterruptedException {
    return doAwait(SharedWord.deadline(Durations.toNanos(timeout)), true);
  }

  /**
   * Waits until signalled, interrupted or the wall-clock deadline passes.
   *
   * @param deadline when to stop waiting
   * @return false if the deadline passed, true if signalled
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  @Override
  public boolean awaitUntil(Date deadline) throws InterruptedException {
    long millis = deadline.getTime() - System.currentTimeMillis();
    return doAwait(SharedWord.deadline(TimeUnit.MILLISECONDS.toNanos(millis)), true);
  }

  /**
   * The wait: counted as a waiter, sleeps on the sequence word with the lock released, and ends
   * when a signal is there to take (or the time is up, or an interrupt).
   *
   * @return true if signalled, false if the time ran out
   */
  private boolean doAwait(long deadline, boolean interruptible) throws InterruptedException {
    checkHeld();
    if (interruptible && Thread.interrupted()) {
      throw new InterruptedException();
    }
    put(WAITERS, get(WAITERS) + 1);
    for (; ; ) {
      int seen = seq.get();
      int holds = lock.fullyRelease();
      boolean interrupted = false;
      try {
        seq.await(seen, deadline, interruptible);
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (RuntimeException e) { // closed in this process
        lock.reacquire(holds);
        if (!cells.isClosed()) {
          leave(); // else the memory is gone: the count cannot be taken back from here
        }
        throw e;
      }
      lock.reacquire(holds);
      if (interrupted) {
        leave(); // a signal that came meanwhile stays for another waiter
        throw new InterruptedException();
      }
      if (deadline != Long.MAX_VALUE && System.nanoTime() - deadline >= 0) {
        leave();
        return false;
      }
      int signals = get(SIGNALS);
      if (signals > 0) {
        put(SIGNALS, signals - 1);
        put(WAITERS, Math.max(0, get(WAITERS) - 1));
        return true;
      }
      // woken for a signal another waiter took: wait on
    }
  }

  /** A waiter leaves without a signal: signals never outnumber waiters. */
  private void leave() {
    int waiters = Math.max(0, get(WAITERS) - 1);
    put(WAITERS, waiters);
    if (get(SIGNALS) > waiters) {
      put(SIGNALS, waiters);
    }
  }

  /**
   * Wakes one waiting thread, of any process, if any waits (CPython's {@code notify()}).
   *
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   */
  @Override
  public void signal() {
    checkHeld();
    int signals = get(SIGNALS);
    if (signals < get(WAITERS)) {
      put(SIGNALS, signals + 1);
      wake();
    }
  }

  /**
   * Wakes every thread, of every process, that waits now (CPython's {@code notify_all()}).
   *
   * @throws IllegalMonitorStateException if this thread does not hold the lock
   */
  @Override
  public void signalAll() {
    checkHeld();
    int waiters = get(WAITERS);
    if (get(SIGNALS) < waiters) {
      put(SIGNALS, waiters);
      wake();
    }
  }

  private void wake() {
    seq.getAndAdd(1);
    seq.wakeAll();
  }

  /**
   * Releases this process's mapping of the condition's state (not the lock, which is closed on its
   * own). Waits of this process's threads, platform or virtual, then end with {@link
   * IllegalStateException} ("closed in this process"), holding the lock again.
   */
  @Override
  public void close() {
    if (!cells.isClosed()) {
      seq.close();
      cells.close();
    }
  }

  @Override
  public String toString() {
    return "ProcessCondition[" + lock + "]";
  }

  /**
   * Goes to a child process as its memory and its lock.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new SyncForm(SyncForm.Kind.CONDITION, cells.lock(), lock);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a ProcessCondition is serialized as its locks");
  }
}
