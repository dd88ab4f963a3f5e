package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.io.Durations;
import io.jpipe.internal.sync.SharedWord;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ProcessQueue} that counts the items not yet done: CPython's {@code
 * multiprocessing.JoinableQueue}. Each {@code put} adds one unfinished task, each {@link
 * #taskDone()} (a consumer's word that it has finished with an item it took) removes one, and
 * {@link #join()} waits until none is left.
 *
 * <pre>{@code
 * JoinableQueue<String> jobs = JoinableQueue.create();
 * ChildProcess.of(Demo::worker, jobs).start();      // takes, works, then jobs.taskDone()
 * for (String j : work) jobs.put(j);
 * jobs.join();                                      // every job is done
 * }</pre>
 *
 * <p>The unfinished count is shared memory changed under a {@link ProcessLock}, and {@code join}
 * waits on a {@link ProcessCondition} of that lock, which the last {@code taskDone} signals. A put
 * counts its task before the item is in the pipe (so a consumer can never finish it first), under
 * the queue's write lock; a put that fails or times out takes it back.
 *
 * <p>A consumer killed with an item it took never calls {@code taskDone} for it: {@code join} then
 * waits for good, as in CPython. Use {@link #join(Duration)} where a consumer may die. A producer
 * killed in its {@code put} between counting the task and sending the item leaves the count one too
 * high in the same way, unless the next producer gives its slot back (see {@link ProcessQueue}).
 *
 * @param <E> the type of the items
 */
public final class JoinableQueue<E> extends ProcessQueue<E> {
  @Serial private static final long serialVersionUID = 1L;

  private final transient SharedLong unfinished;
  private final transient ProcessCondition allDone;

  JoinableQueue(
      SimpleQueue<E> queue,
      ProcessSemaphore free,
      SharedLong count,
      int capacity,
      SharedLong unfinished,
      ProcessCondition allDone) {
    super(queue, free, count, capacity);
    this.unfinished = unfinished;
    this.allDone = allDone;
  }

  /**
   * Creates an unbounded joinable queue whose items are Java-serialized (CPython's {@code
   * JoinableQueue()}).
   *
   * @param <E> the type of the items
   * @return the queue
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> JoinableQueue<E> create() throws IOException {
    return create(0, Codec.javaSerialization());
  }

  /**
   * Creates a joinable queue of at most {@code capacity} items (CPython's {@code
   * JoinableQueue(maxsize)}).
   *
   * @param <E> the type of the items
   * @param capacity the most items the queue holds; 0 for no limit
   * @return the queue
   * @throws IllegalArgumentException if {@code capacity} is negative
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> JoinableQueue<E> create(int capacity) throws IOException {
    return create(capacity, Codec.javaSerialization());
  }

  /**
   * Creates a joinable queue of at most {@code capacity} items (0 for no limit) encoded by {@code
   * codec}.
   *
   * @param <E> the type of the items
   * @param capacity the most items the queue holds; 0 for no limit
   * @param codec the codec of the items
   * @return the queue
   * @throws IllegalArgumentException if {@code capacity} is negative
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> JoinableQueue<E> create(int capacity, Codec codec) throws IOException {
    Parts p = Parts.create(capacity, codec);
    SharedLong unfinished = null;
    ProcessLock lock = null;
    try {
      unfinished = SharedLong.create(0);
      lock = ProcessLock.create();
      return new JoinableQueue<>(
          p.queue(), p.free(), p.count(), capacity, unfinished, lock.newCondition());
    } catch (IOException | RuntimeException e) {
      p.queue0().close();
      p.count().close();
      if (p.free() != null) {
        p.free().close();
      }
      if (unfinished != null) {
        unfinished.close();
      }
      if (lock != null) {
        lock.close();
      }
      throw e;
    }
  }

  /**
   * Says that an item taken from the queue is done with (CPython's {@code task_done()}); when every
   * item put has been done with, {@link #join()} returns, in every process.
   *
   * @throws IllegalStateException if called more times than items were put (CPython's {@code
   *     ValueError}), or if the queue is closed in this process
   */
  public void taskDone() {
    ProcessLock lock = allDone.lock();
    lock.lock();
    try {
      long n = unfinished.get();
      if (n <= 0) {
        throw new IllegalStateException("taskDone() called more times than there were items");
      }
      unfinished.set(n - 1);
      if (n == 1) {
        allDone.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until every item put has been done with ({@link #taskDone()}), in whichever process
   * (CPython's {@code join()}).
   *
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if the queue is closed in this process
   */
  public void join() throws InterruptedException {
    awaitDone(Long.MAX_VALUE);
  }

  /**
   * Waits up to {@code timeout} until every item put has been done with; CPython has no timeout
   * here, but a consumer that dies holding an item would make {@link #join()} wait for good.
   *
   * @param timeout the longest wait
   * @return true if every item is done with, false if the time ran out
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if the queue is closed in this process
   */
  public boolean join(Duration timeout) throws InterruptedException {
    return awaitDone(SharedWord.deadline(Durations.toNanos(timeout)));
  }

  private boolean awaitDone(long deadline) throws InterruptedException {
    ProcessLock lock = allDone.lock();
    lock.lockInterruptibly();
    try {
      while (unfinished.get() > 0) {
        if (deadline == Long.MAX_VALUE) {
          allDone.await();
        } else {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          allDone.await(left, TimeUnit.NANOSECONDS);
        }
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The number of items put and not yet done with: approximate, as {@link #size()}.
   *
   * @return the unfinished tasks
   */
  public long unfinishedTasks() {
    return unfinished.get();
  }

  @Override
  void beforeSend() {
    ProcessLock lock = allDone.lock();
    lock.lock();
    try {
      unfinished.incrementAndGet();
    } finally {
      lock.unlock();
    }
  }

  @Override
  void notSent() {
    ProcessLock lock = allDone.lock();
    lock.lock();
    try {
      if (unfinished.decrementAndGet() <= 0) {
        allDone.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  void closeShared() {
    super.closeShared();
    allDone.close();
    allDone.lock().close();
    unfinished.close();
  }

  /**
   * Goes to a child process as its pipe, locks and shared counts.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  @Override
  Object writeReplace() {
    return new Form(queue, free, count, capacity(), unfinished, allDone);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a JoinableQueue is serialized as its pipe and locks");
  }
}
