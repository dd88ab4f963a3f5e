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

/**
 * A flag shared by processes that threads wait to see set: CPython's {@code multiprocessing.Event}.
 * Pass it to child processes as a {@link ChildProcess} argument.
 *
 * <pre>{@code
 * ProcessEvent ready = ProcessEvent.create();
 * ChildProcess.of(Demo::worker, ready).start();   // the worker calls ready.set()
 * ready.await();                                  // CPython: event.wait()
 * }</pre>
 *
 * <p>It is one word of shared memory: the flag and a count of the times it was set. Waiters sleep
 * on the word ({@code futex}); {@link #set()} wakes them all, in every process. A wait ends with
 * {@code true} if the event was set at some moment during it, even if it was cleared again before
 * the waiter ran (CPython's waiter could miss so short a pulse). Virtual threads park.
 *
 * <h2>A process that dies</h2>
 *
 * <p>Nothing is held: a process that dies while waiting, or before it sets the event, leaves the
 * flag as it was; the others go on waiting for whoever else sets it (give waits a timeout if that
 * could be nobody).
 */
public final class ProcessEvent implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Shared state: one word (bit 0: set; the bits above: how many times it was set). */
  static final int BYTES = 8;

  private final transient SharedCells cells;
  private final transient SharedWord word;

  ProcessEvent(SharedCells cells) {
    this.cells = cells;
    this.word = cells.word(0);
  }

  /**
   * Creates an event, not set.
   *
   * @return the event
   * @throws IOException if shared memory cannot be had
   */
  public static ProcessEvent create() throws IOException {
    return new ProcessEvent(SharedCells.create(BYTES));
  }

  /**
   * Whether the event is set (CPython's {@code is_set()}).
   *
   * @return true if set
   */
  public boolean isSet() {
    return (word.get() & 1) != 0;
  }

  /** Sets the event and wakes every waiting thread of every process (CPython's {@code set()}). */
  public void set() {
    for (; ; ) {
      int w = word.get();
      if ((w & 1) != 0) {
        return;
      }
      if (word.compareAndSet(w, (w + 2) | 1)) {
        break;
      }
    }
    word.wakeAll();
  }

  /**
   * Clears the event: waits that start now wait for the next {@link #set()} (CPython's {@code
   * clear()}).
   */
  public void clear() {
    for (; ; ) {
      int w = word.get();
      if ((w & 1) == 0 || word.compareAndSet(w, w & ~1)) {
        return;
      }
    }
  }

  /**
   * Waits until the event is set (CPython's {@code wait()}).
   *
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public void await() throws InterruptedException {
    awaitUntil(Long.MAX_VALUE);
  }

  /**
   * Waits until the event is set or the time is up (CPython's {@code wait(timeout)}).
   *
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return true if the event was set, false if the time ran out
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public boolean await(long time, TimeUnit unit) throws InterruptedException {
    return awaitUntil(SharedWord.deadline(unit.toNanos(time)));
  }

  /**
   * Waits until the event is set or {@code timeout} has passed.
   *
   * @param timeout the longest wait
   * @return true if the event was set, false if the time ran out
   * @throws InterruptedException if interrupted before or while waiting
   * @throws IllegalStateException if closed in this process ({@link #close()}) before or while
   *     waiting: the message says {@code "closed in this process"}, on platform and virtual threads
   */
  public boolean await(Duration timeout) throws InterruptedException {
    return awaitUntil(SharedWord.deadline(Durations.toNanos(timeout)));
  }

  private boolean awaitUntil(long deadline) throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    int w = word.get();
    if ((w & 1) != 0) {
      return true;
    }
    // every set changes the word, and a clear of a cleared event does not
    return word.await(w, deadline, true) || isSet();
  }

  /** Releases this process's mapping of the event; it lives on in processes that still have it. */
  @Override
  public void close() {
    if (!cells.isClosed()) {
      word.close();
      cells.close();
    }
  }

  @Override
  public String toString() {
    return cells.isClosed()
        ? "ProcessEvent[closed]"
        : "ProcessEvent[" + (isSet() ? "set]" : "clear]");
  }

  /**
   * Goes to a child process as its memory: the child gets the same event.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new SyncForm(SyncForm.Kind.EVENT, cells.lock(), null);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a ProcessEvent is serialized as its memory");
  }
}
