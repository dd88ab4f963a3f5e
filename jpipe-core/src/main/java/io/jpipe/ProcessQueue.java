package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FrameBuffer;
import io.jpipe.internal.sync.SharedWord;
import java.io.EOFException;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A queue of objects shared by processes, with an optional capacity and timed waits: CPython's
 * {@code multiprocessing.Queue}, with the method names and semantics of {@link
 * java.util.concurrent.BlockingQueue} ({@code put}, {@code offer}, {@code take}, {@code poll}).
 *
 * <pre>{@code
 * ProcessQueue<String> queue = ProcessQueue.create(64);       // CPython: Queue(maxsize=64)
 * ChildProcess.of(Demo::worker, queue).start();               // the child gets the same queue
 * queue.put("job");                                           // q.put(obj): waits while full
 * String answer = queue.poll(Duration.ofSeconds(5));          // q.get(timeout=5), null if none
 * }</pre>
 *
 * <p>Named {@code ProcessQueue} so that it never clashes with {@link java.util.Queue} in a file
 * that imports both (the other queues keep CPython's names, which clash with nothing). It is not a
 * {@code BlockingQueue}: half of that interface (iteration, {@code contains}, {@code remove(o)},
 * {@code drainTo} without loss, {@code peek}) cannot be had on a pipe, whose items can only be
 * taken in order, so the methods it has are those that can be kept exactly.
 *
 * <p>It is a {@link SimpleQueue} (one-way pipe, read and write {@link ProcessLock}s, the same
 * detection of a process that dies in the middle of an item) with a bounded {@link
 * ProcessSemaphore} for the capacity and a shared count for {@link #size()}. Give it to a {@link
 * ChildProcess} as an argument (or inside one). Blocking calls park a virtual thread.
 *
 * <h2>Null items</h2>
 *
 * <p>Items must not be null ({@link NullPointerException}), as in {@code BlockingQueue} and unlike
 * CPython, which allows {@code None}: {@link #poll()} and the timed polls return null to say that
 * there was no item (where CPython raises {@code queue.Empty}), so a null item could not be told
 * apart from none. Use a sentinel object of your own, or {@link SimpleQueue}, which allows null.
 *
 * <h2>Better than CPython: errors in the caller, and no deadlock on join</h2>
 *
 * <p>CPython's {@code put} appends the item to a buffer that a feeder thread pickles and writes
 * later. So an item that cannot be pickled fails in that thread, printed and lost, never in the
 * caller; and a process that has put items waits, when it ends, for its feeder thread to write them
 * all, which blocks while the pipe is full: a parent that joins that child before taking the items
 * deadlocks (the "joining processes that use queues" warning of its documentation). Here there is
 * no feeder thread: {@code put} encodes the item in the caller's thread (an item that cannot be
 * encoded fails in {@code put} with the codec's exception, and nothing is sent) and writes it into
 * the pipe before it returns. Once {@code put} has returned, the item is in the kernel's pipe and
 * the producer holds nothing back: it can end at once, and joining it cannot deadlock, whatever the
 * consumers do. A {@code put} that has not returned waits in the caller's thread, as {@code
 * BlockingQueue.put} does: for a free slot, or, for items that do not fit in the pipe's kernel
 * buffer (64 KiB on Linux), for room in the pipe. So in CPython's documented example (a child puts
 * one 1 MB item; the parent joins the child before getting it) the child does not end here either,
 * but it waits inside its {@code put}, where a thread dump shows it, never after its code is done;
 * {@link #offer(Object, Duration)} bounds the wait for a slot. With a capacity, the pipe never
 * holds more than that many items.
 *
 * <h2>A process that dies</h2>
 *
 * <p>As for {@link SimpleQueue} (whose class comment says exactly when): a consumer killed while it
 * waits loses nothing; one killed while it reads an item, or a producer killed while it writes one
 * larger than 4092 encoded bytes, breaks the queue ({@link BrokenQueueException} everywhere after),
 * so no item is ever delivered twice or torn. Beyond that:
 *
 * <ul>
 *   <li>A consumer killed after {@code take} or {@code poll} returned loses the item it took,
 *       silently, as in CPython: the queue cannot know what a process did with an item it had
 *       (report what you took, or use a {@link JoinableQueue}, whose {@code join} then never ends:
 *       wait with a timeout). Its slot is not lost: the slot is given back, and the size counted
 *       down, while the consumer still holds the read lock and the read's marks, before the item
 *       leaves the queue's code. A consumer killed before that is done breaks the queue.
 *   <li>A producer killed while it holds the write lock, having taken a slot but sent nothing,
 *       leaves a mark that the next producer sees, and that producer gives the slot back: dead
 *       producers do not shrink the capacity. (The window is conservative by a few instructions: a
 *       producer killed just after taking a slot, or just after sending and before clearing its
 *       mark, can leave the queue one slot smaller, or one larger.)
 * </ul>
 *
 * @param <E> the type of the items; not checked across processes, so an item of another type
 *     surfaces as a {@link ClassCastException} where the taker uses it
 */
public sealed class ProcessQueue<E> implements AutoCloseable, Serializable permits JoinableQueue {
  @Serial private static final long serialVersionUID = 1L;

  final transient SimpleQueue<E> queue;

  /** The free slots (bounded by the capacity), or null for an unbounded queue. */
  final transient ProcessSemaphore free;

  /** The items in the pipe, as counted after each send and receive. */
  final transient SharedLong count;

  private final transient int capacity;

  ProcessQueue(SimpleQueue<E> queue, ProcessSemaphore free, SharedLong count, int capacity) {
    this.queue = queue;
    this.free = free;
    this.count = count;
    this.capacity = capacity;
    queue.slots(new Counting());
  }

  /**
   * Creates an unbounded queue whose items are Java-serialized (CPython's {@code Queue()}). {@code
   * put} never waits for a slot; it waits only while the pipe's kernel buffer is full.
   *
   * @param <E> the type of the items
   * @return the queue
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> ProcessQueue<E> create() throws IOException {
    return create(0, Codec.javaSerialization());
  }

  /**
   * Creates a queue of at most {@code capacity} items, Java-serialized (CPython's {@code
   * Queue(maxsize)}).
   *
   * @param <E> the type of the items
   * @param capacity the most items the queue holds; 0 for no limit, as CPython's {@code maxsize=0}
   * @return the queue
   * @throws IllegalArgumentException if {@code capacity} is negative
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> ProcessQueue<E> create(int capacity) throws IOException {
    return create(capacity, Codec.javaSerialization());
  }

  /**
   * Creates a queue of at most {@code capacity} items (0 for no limit) encoded by {@code codec}
   * (which must be {@link Serializable} for the queue to go to a child process).
   *
   * @param <E> the type of the items
   * @param capacity the most items the queue holds; 0 for no limit
   * @param codec the codec of the items
   * @return the queue
   * @throws IllegalArgumentException if {@code capacity} is negative
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> ProcessQueue<E> create(int capacity, Codec codec) throws IOException {
    Parts p = Parts.create(capacity, codec);
    return new ProcessQueue<>(p.queue(), p.free(), p.count(), capacity);
  }

  /** The shared parts of a new queue, closed together if one cannot be had. */
  record Parts(SimpleQueue<Object> queue0, ProcessSemaphore free, SharedLong count) {
    @SuppressWarnings("unchecked")
    <E> SimpleQueue<E> queue() {
      return (SimpleQueue<E>) queue0;
    }

    static Parts create(int capacity, Codec codec) throws IOException {
      if (capacity < 0) {
        throw new IllegalArgumentException("capacity < 0: " + capacity);
      }
      Objects.requireNonNull(codec, "codec");
      SimpleQueue<Object> q = SimpleQueue.create(codec);
      ProcessSemaphore free = null;
      try {
        free = capacity == 0 ? null : ProcessSemaphore.createBounded(capacity);
        return new Parts(q, free, SharedLong.create(0));
      } catch (IOException | RuntimeException e) {
        q.close();
        if (free != null) {
          free.close();
        }
        throw e;
      }
    }
  }

  /**
   * Adds an item, waiting while the queue is full (CPython's {@code put(obj)}). The item is encoded
   * in this thread first and is in the pipe when this returns.
   *
   * @param item the item, not null
   * @throws NullPointerException if {@code item} is null
   * @throws java.io.NotSerializableException (or another {@link IOException} from the codec) if the
   *     item cannot be encoded; nothing was sent
   * @throws BrokenQueueException if the queue is broken (see {@link SimpleQueue})
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws BrokenPipeException if every process has closed the queue's receiving end
   * @throws InterruptedException if interrupted while waiting for a slot or the write lock
   * @throws IOException if sending fails
   */
  public void put(E item) throws IOException, InterruptedException {
    send(item, Long.MAX_VALUE);
  }

  /**
   * Adds an item if there is a free slot now (CPython's {@code put_nowait(obj)}, which raises
   * {@code queue.Full} where this returns false). It does not wait for a slot; it waits for the
   * write lock only while another producer holds it and a slot may be free.
   *
   * @param item the item, not null
   * @return true if added, false if the queue is full
   * @throws NullPointerException if {@code item} is null
   * @throws java.io.NotSerializableException (or another {@link IOException} from the codec) if the
   *     item cannot be encoded; nothing was sent
   * @throws BrokenQueueException if the queue is broken
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws InterruptedException if interrupted while waiting for the write lock
   * @throws IOException if sending fails
   */
  public boolean offer(E item) throws IOException, InterruptedException {
    return send(item, SimpleQueue.NO_WAIT);
  }

  /**
   * Adds an item, waiting up to {@code timeout} for a free slot (CPython's {@code put(obj, True,
   * timeout)}, which raises {@code queue.Full} where this returns false).
   *
   * @param item the item, not null
   * @param timeout the longest wait for the write lock and a slot
   * @return true if added, false if the time ran out
   * @throws NullPointerException if {@code item} is null
   * @throws java.io.NotSerializableException (or another {@link IOException} from the codec) if the
   *     item cannot be encoded; nothing was sent
   * @throws BrokenQueueException if the queue is broken
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws InterruptedException if interrupted while waiting
   * @throws IOException if sending fails
   */
  public boolean offer(E item, Duration timeout) throws IOException, InterruptedException {
    return send(item, SharedWord.deadline(Durations.toNanos(timeout)));
  }

  /**
   * Adds an item, waiting up to the time given for a free slot; as {@link #offer(Object,
   * Duration)}.
   *
   * @param item the item, not null
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return true if added, false if the time ran out
   * @throws NullPointerException if {@code item} is null
   * @throws java.io.NotSerializableException (or another {@link IOException} from the codec) if the
   *     item cannot be encoded; nothing was sent
   * @throws BrokenQueueException if the queue is broken
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws InterruptedException if interrupted while waiting
   * @throws IOException if sending fails
   */
  public boolean offer(E item, long time, TimeUnit unit) throws IOException, InterruptedException {
    return send(item, SharedWord.deadline(unit.toNanos(time)));
  }

  private boolean send(E item, long deadline) throws IOException, InterruptedException {
    Objects.requireNonNull(
        item, "a ProcessQueue's items are not null (poll returns null for none)");
    FrameBuffer frame = queue.encode(item);
    try {
      return queue.send(frame, deadline);
    } finally {
      frame.release();
    }
  }

  /**
   * Removes and returns the item at the head, waiting until there is one (CPython's {@code get()}).
   *
   * @return the item
   * @throws BrokenQueueException if the queue is broken
   * @throws EOFException if the queue is empty and every process has closed its sending end
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws java.io.StreamCorruptedException (or another {@link IOException} from the codec) if the
   *     item cannot be decoded; it is consumed and the next one can be taken
   * @throws InterruptedException if interrupted while waiting for the read lock
   * @throws IOException if receiving fails
   */
  public E take() throws IOException, InterruptedException {
    return receive(Long.MAX_VALUE);
  }

  /**
   * Removes and returns the item at the head if there is one now (CPython's {@code get_nowait()},
   * which raises {@code queue.Empty} where this returns null). It does not wait for an item; it
   * waits for the read lock only while another consumer holds it and an item is in the pipe.
   *
   * @return the item, or null if the queue is empty
   * @throws BrokenQueueException if the queue is broken
   * @throws EOFException if the queue is empty and every process has closed its sending end
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws InterruptedException if interrupted while waiting for the read lock
   * @throws IOException if receiving or decoding fails, as for {@link #take()}
   */
  public E poll() throws IOException, InterruptedException {
    return receive(SimpleQueue.NO_WAIT);
  }

  /**
   * Removes and returns the item at the head, waiting up to {@code timeout} for one (CPython's
   * {@code get(True, timeout)}, which raises {@code queue.Empty} where this returns null).
   *
   * @param timeout the longest wait
   * @return the item, or null if the time ran out
   * @throws BrokenQueueException if the queue is broken
   * @throws EOFException if the queue is empty and every process has closed its sending end
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws InterruptedException if interrupted while waiting for the read lock
   * @throws IOException if receiving or decoding fails, as for {@link #take()}
   */
  public E poll(Duration timeout) throws IOException, InterruptedException {
    return receive(SharedWord.deadline(Durations.toNanos(timeout)));
  }

  /**
   * Removes and returns the item at the head, waiting up to the time given; as {@link
   * #poll(Duration)}.
   *
   * @param time the longest wait
   * @param unit the unit of {@code time}
   * @return the item, or null if the time ran out
   * @throws BrokenQueueException if the queue is broken
   * @throws EOFException if the queue is empty and every process has closed its sending end
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws InterruptedException if interrupted while waiting for the read lock
   * @throws IOException if receiving or decoding fails, as for {@link #take()}
   */
  public E poll(long time, TimeUnit unit) throws IOException, InterruptedException {
    return receive(SharedWord.deadline(unit.toNanos(time)));
  }

  @SuppressWarnings("unchecked") // the type parameter is the callers' word, as for a collection
  private E receive(long deadline) throws IOException, InterruptedException {
    Object item = queue.receive(deadline);
    return item == SimpleQueue.TIMED_OUT ? null : (E) item;
  }

  /**
   * The number of items in the queue now (CPython's {@code qsize()}): approximate, since other
   * processes put and take at any moment, and a process killed in the middle of an item can leave
   * it off by one.
   *
   * @return the number of items, at least 0
   * @throws IllegalStateException if the queue is closed in this process
   */
  public int size() {
    long n = count.get();
    return (int) Math.max(0, Math.min(n, Integer.MAX_VALUE));
  }

  /**
   * Whether the queue is empty now (CPython's {@code empty()}): approximate, as {@link #size()}.
   * True when no item is in the pipe.
   *
   * @return true if empty
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws IOException if poll fails
   */
  public boolean isEmpty() throws IOException {
    return queue.isEmpty();
  }

  /**
   * Whether the queue is full now (CPython's {@code full()}): approximate. Never true for an
   * unbounded queue.
   *
   * @return true if no slot is free
   * @throws IllegalStateException if the queue is closed in this process
   */
  public boolean isFull() {
    return free != null && free.availablePermits() == 0;
  }

  /**
   * The number of items that could be added now without waiting for a slot ({@code BlockingQueue}'s
   * {@code remainingCapacity()}; CPython's {@code maxsize - qsize()}): approximate; {@link
   * Integer#MAX_VALUE} for an unbounded queue.
   *
   * @return the free slots
   * @throws IllegalStateException if the queue is closed in this process
   */
  public int remainingCapacity() {
    return free == null ? Integer.MAX_VALUE : free.availablePermits();
  }

  /**
   * The most items the queue holds (CPython's {@code maxsize}); 0 for no limit.
   *
   * @return the capacity
   */
  public int capacity() {
    return capacity;
  }

  /**
   * Closes this process's ends of the queue and its shared state (CPython's {@code close()}, after
   * which {@code put} and {@code get} raise; here they throw {@link ClosedChannelException}). Other
   * processes keep theirs. Idempotent, from any thread; a thread of this process blocked in the
   * queue is woken with {@link java.nio.channels.AsynchronousCloseException}. Nothing needs
   * flushing, so there is no {@code join_thread()}: every item put here is already in the pipe.
   */
  @Override
  public void close() {
    queue.close();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName()
        + "["
        + (queue.isClosed() ? "closed" : "size=" + size())
        + (capacity == 0 ? "" : ", capacity=" + capacity)
        + "]";
  }

  /** What is shared besides the pipe and its locks, closed with them in this process. */
  void closeShared() {
    count.close();
    if (free != null) {
      free.close();
    }
  }

  /** Called under the write lock once a slot is had, before the item is sent. */
  void beforeSend() {}

  /** Called under the write lock when an item {@link #beforeSend()} was called for was not sent. */
  void notSent() {}

  /** The counting of slots and items, called by the {@link SimpleQueue} under its locks. */
  private final class Counting implements SimpleQueue.Slots {
    @Override
    public boolean claim(long deadline) throws InterruptedException {
      long left = deadline - System.nanoTime();
      boolean got =
          free == null
              || (left <= 0 ? free.tryAcquire() : free.tryAcquire(left, TimeUnit.NANOSECONDS));
      if (got) {
        beforeSend();
      }
      return got;
    }

    @Override
    public boolean mayHaveRoom() {
      return free == null || free.availablePermits() > 0;
    }

    @Override
    public void unclaim() {
      giveBack();
      notSent();
    }

    @Override
    public void sent() {
      count.incrementAndGet();
    }

    @Override
    public void received() {
      count.decrementAndGet();
      giveBack();
    }

    private void giveBack() {
      if (free != null) {
        try {
          free.release();
        } catch (IllegalStateException e) {
          // every slot is free already: a producer killed just after sending gave its slot back
        }
      }
    }

    @Override
    public void close() {
      closeShared();
    }
  }

  /**
   * Goes to a child process as its pipe, locks and shared counts: the child uses the same queue.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  Object writeReplace() {
    return new Form(queue, free, count, capacity, null, null);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a ProcessQueue is serialized as its pipe and locks");
  }

  /**
   * What a queue becomes on its way to a child process. Typed {@code Object} as in {@link
   * SimpleQueue}'s: the parts are serializable by the child process's stream only.
   */
  static final class Form implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // replaced by the spawn stream, as intended
    private final Object queue;

    @SuppressWarnings("serial")
    private final Object free;

    @SuppressWarnings("serial")
    private final Object count;

    private final int capacity;

    /** A joinable queue's unfinished count and its condition, or null. */
    @SuppressWarnings("serial")
    private final Object unfinished;

    @SuppressWarnings("serial")
    private final Object allDone;

    Form(
        SimpleQueue<?> queue,
        ProcessSemaphore free,
        SharedLong count,
        int capacity,
        SharedLong unfinished,
        ProcessCondition allDone) {
      this.queue = queue;
      this.free = free;
      this.count = count;
      this.capacity = capacity;
      this.unfinished = unfinished;
      this.allDone = allDone;
    }

    @Serial
    private Object readResolve() throws InvalidObjectException {
      if (!(queue instanceof SimpleQueue<?> q)
          || !(count instanceof SharedLong c)
          || capacity < 0
          || (capacity == 0) != (free == null)
          || (free != null && !(free instanceof ProcessSemaphore))
          || (unfinished == null) != (allDone == null)
          || (unfinished != null && !(unfinished instanceof SharedLong))
          || (allDone != null && !(allDone instanceof ProcessCondition))) {
        throw new InvalidObjectException("not a ProcessQueue's parts");
      }
      @SuppressWarnings("unchecked")
      SimpleQueue<Object> sq = (SimpleQueue<Object>) q;
      ProcessSemaphore f = (ProcessSemaphore) free;
      if (unfinished == null) {
        return new ProcessQueue<>(sq, f, c, capacity);
      }
      return new JoinableQueue<>(
          sq, f, c, capacity, (SharedLong) unfinished, (ProcessCondition) allDone);
    }
  }
}
