package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.io.FrameBuffer;
import io.jpipe.internal.sync.SharedCells;
import java.io.EOFException;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A queue of objects shared by processes: any number of producer and consumer processes put and
 * take whole items, each item taken exactly once (CPython's {@code multiprocessing.SimpleQueue}).
 *
 * <pre>{@code
 * SimpleQueue<Integer> queue = SimpleQueue.create();
 * ChildProcess.of(Demo::consumer, queue, "c1").start();   // the child gets the same queue
 * ChildProcess.of(Demo::consumer, queue, "c2").start();
 * for (int i = 0; i < 10; i++) queue.put(i);
 * queue.put(null);                                         // one sentinel per consumer
 * queue.put(null);
 *
 * static void consumer(SimpleQueue<Integer> queue, String name) throws Exception {
 *   for (Integer item; (item = queue.take()) != null; ) System.out.println(name + " received: " + item);
 * }
 * }</pre>
 *
 * <p>It is built as CPython builds it: a one-way {@link Pipe}, a {@link ProcessLock} that readers
 * take around each receive and one that writers take around each send (a message larger than the
 * kernel's PIPE_BUF, 4096 bytes, is not written atomically, so two writers could interleave). Give
 * it to a {@link ChildProcess} as an argument (or inside one) and the child gets the same pipe and
 * locks. Blocking calls park a virtual thread rather than pin its carrier.
 *
 * <p>Unlike CPython's, an item is encoded in the caller before anything is locked or sent, so an
 * item that cannot be encoded fails in {@link #put} with the codec's exception (such as {@link
 * java.io.NotSerializableException}) and the queue is unchanged. Items may be {@code null} (as
 * CPython's {@code None}), a common sentinel. There is no capacity: {@code put} blocks only while
 * the pipe's kernel buffer is full, until a consumer takes an item.
 *
 * <h2>A process that dies</h2>
 *
 * <p>The locks survive a holder that dies, so a consumer or producer killed at any point never
 * deadlocks the others. What is lost:
 *
 * <ul>
 *   <li>A consumer killed while it waits in {@link #take()} for an item (holding the read lock or
 *       waiting for it) loses nothing: the next consumer takes the lock over and goes on.
 *   <li>A consumer killed while it reads a message (from its first byte to its last) loses that
 *       item, and the pipe is left in the middle of a message. The next {@code take} sees that,
 *       marks the queue broken in every process, and throws {@link BrokenQueueException}, as does
 *       every later {@code take} and {@code put}: no item is ever delivered twice, and no consumer
 *       ever gets bytes of two messages as one. (The window is conservative by a few instructions:
 *       a consumer killed just before its first byte also breaks the queue.)
 *   <li>A producer killed while it writes an item of more than 4092 encoded bytes (the payload that
 *       fits one PIPE_BUF write with its header) leaves part of a message in the pipe: the next
 *       {@code put} marks the queue broken and throws {@link BrokenQueueException}, as do later
 *       calls, and consumers waiting for the read lock. The one consumer already reading that part
 *       waits for the rest until every copy of the sending end is closed ({@link
 *       TruncatedMessageException}), or it is interrupted, or the queue is closed in its process.
 *       Smaller items are written in one atomic write: a producer dies before or after, never
 *       during.
 *   <li>An item put but not yet taken stays in the pipe for the other consumers, whoever put it.
 * </ul>
 *
 * <p>Interrupts: one that arrives while a thread waits for a lock throws {@link
 * InterruptedException} and leaves the queue usable; one that arrives while it waits in the pipe
 * closes this process's ends of the queue, as for a {@link Connection}, and throws {@link
 * java.nio.channels.ClosedByInterruptException}.
 *
 * @param <E> the type of the items; not checked across processes, so an item of another type
 *     surfaces as a {@link ClassCastException} where the taker uses it
 */
public final class SimpleQueue<E> implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** A frame of at most this many bytes goes in one write, which a pipe keeps whole. */
  private static final int PIPE_BUF = 4096;

  private static final VarHandle CELL = ValueLayout.JAVA_INT.varHandle();

  /** Cell offsets in the shared state. */
  private static final long READING = 0;

  private static final long WRITING = 4;
  private static final long BROKEN = 8;

  /** 1 from when a writer took a slot of a bounded queue ({@link Slots}) until its item is sent. */
  private static final long CLAIMED = 12;

  private static final long STATE_BYTES = 16;

  /** Values of the {@code BROKEN} cell. */
  private static final int READER_DIED = 1;

  private static final int WRITER_DIED = 2;
  private static final int READ_FAILED = 3;
  private static final int WRITE_FAILED = 4;

  /** Lock waits are cut into slices this long, to notice a close in this process. */
  private static final long LOCK_SLICE_NANOS = 100_000_000L;

  private final transient Connection reader;
  private final transient Connection writer;

  /** The shared state; its lock is the read lock. */
  private final transient SharedCells state;

  private final transient ProcessLock writeLock;

  /** Threads of this process between taking a lock (or waiting for it) and giving it back. */
  private final transient AtomicInteger users = new AtomicInteger();

  private final transient AtomicBoolean locksClosed = new AtomicBoolean();

  private transient volatile boolean closed;

  /** What a {@link ProcessQueue} counts around each item, or null; set before the queue is used. */
  private transient Slots slots;

  /**
   * A deadline that means "do not wait for an item or a slot": the call still waits for the lock
   * while another thread holds it, as long as an item (or a slot) may be had, so that it does not
   * fail just because another process is in the middle of an item.
   */
  static final long NO_WAIT = Long.MIN_VALUE;

  /** Lock waits of a {@link #NO_WAIT} call are cut into slices this long. */
  private static final long NO_WAIT_SLICE_NANOS = 1_000_000L;

  /** What {@link #receive} returns when the time ran out. */
  static final Object TIMED_OUT = new Object();

  /**
   * The counting of a {@link ProcessQueue} (capacity and size), called by the queue at the points
   * where an item enters and leaves the pipe, each under the lock that orders them.
   */
  interface Slots {
    /**
     * Under the write lock: takes a slot for one item if one is free by {@code deadline} (a {@link
     * System#nanoTime()} value; the queue calls again if false, checking for a close between).
     */
    boolean claim(long deadline) throws InterruptedException;

    /** Whether a slot may be free now (approximate; no lock held). */
    boolean mayHaveRoom();

    /**
     * Under the write lock: a slot was claimed by a writer that died before sending; give it back.
     */
    void unclaim();

    /** Under the write lock: the item is in the pipe. */
    void sent();

    /** Under the read lock, inside the read's marks: the item is out of the pipe. */
    void received();

    /** Once this process's queue is closed and no thread of it is inside. */
    void close();
  }

  /** Gives the queue its counting, before it is used or shared. */
  void slots(Slots slots) {
    this.slots = slots;
  }

  private SimpleQueue(
      Connection reader, Connection writer, SharedCells state, ProcessLock writeLock) {
    this.reader = reader;
    this.writer = writer;
    this.state = state;
    this.writeLock = writeLock;
  }

  /**
   * Creates an empty queue whose items are Java-serialized.
   *
   * @param <E> the type of the items
   * @return the queue
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> SimpleQueue<E> create() throws IOException {
    return create(Codec.javaSerialization());
  }

  /**
   * Creates an empty queue whose items are encoded by {@code codec} (which must be {@link
   * Serializable} for the queue to go to a child process, as for a {@link Pipe}'s ends).
   *
   * @param <E> the type of the items
   * @param codec the codec of the items
   * @return the queue
   * @throws IOException if the pipe or the shared memory cannot be had
   */
  public static <E> SimpleQueue<E> create(Codec codec) throws IOException {
    Objects.requireNonNull(codec, "codec");
    Pipe pipe = Pipe.open(false, codec);
    SharedCells state = null;
    try {
      state = SharedCells.create(STATE_BYTES);
      return new SimpleQueue<>(pipe.conn1(), pipe.conn2(), state, ProcessLock.create());
    } catch (IOException | RuntimeException e) {
      pipe.close();
      if (state != null) {
        state.close();
      }
      throw e;
    }
  }

  /**
   * Adds an item at the tail (CPython's {@code put}). The item is encoded first, in this thread;
   * then it is sent whole under the queue's write lock. Waits while the pipe is full.
   *
   * @param item the item; may be null
   * @throws java.io.NotSerializableException (or another {@link IOException} from the codec) if the
   *     item cannot be encoded; nothing was sent
   * @throws BrokenQueueException if the queue is broken (see the class comment)
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws BrokenPipeException if every process has closed the queue's receiving end
   * @throws InterruptedException if interrupted while waiting for the write lock
   * @throws IOException if sending fails
   */
  public void put(E item) throws IOException, InterruptedException {
    FrameBuffer frame = encode(item);
    try {
      send(frame, Long.MAX_VALUE);
    } finally {
      frame.release();
    }
  }

  /**
   * Encodes an item in this thread, before anything is locked: the first half of a put.
   *
   * @return the frame, to send and then release
   */
  FrameBuffer encode(Object item) throws IOException {
    if (writer.isClosed()) {
      throw new ClosedChannelException();
    }
    FrameBuffer frame = FrameBuffer.acquire();
    try {
      writer.codec().encode(item, frame);
      return frame;
    } catch (IOException | RuntimeException | Error e) {
      frame.release();
      throw e;
    }
  }

  /**
   * Sends an encoded item whole under the write lock, having first claimed its slot if the queue
   * counts them: the second half of a put.
   *
   * @param deadline a {@link System#nanoTime()} value for the waits for the lock and for a slot,
   *     {@link Long#MAX_VALUE} for none, or {@link #NO_WAIT} (the write itself still waits while
   *     the pipe is full)
   * @return false if the time ran out; nothing was sent
   */
  boolean send(FrameBuffer frame, long deadline) throws IOException, InterruptedException {
    int payload = frame.payloadLength();
    enter();
    try {
      if (!lock(writeLock, deadline, () -> slots == null || slots.mayHaveRoom())) {
        leave();
        return false;
      }
    } catch (Throwable e) {
      leave();
      throw e;
    }
    try {
      if (writeLock.previousOwnerDied()) {
        if (get(WRITING) != 0) {
          throw breakWith(WRITER_DIED);
        }
        if (get(CLAIMED) != 0) { // it died holding a slot and sent nothing: the slot is free
          set(CLAIMED, 0);
          if (slots != null) {
            slots.unclaim();
          }
        }
      }
      checkNotBroken();
      Slots s = slots;
      if (s != null) {
        if (!claim(s, deadline)) {
          return false;
        }
        set(CLAIMED, 1);
      }
      if (frame.frameLength() <= PIPE_BUF) {
        writer.sendBytes(frame.array(), 4, payload); // one write: whole or nothing
      } else {
        set(WRITING, 1);
        try {
          writer.sendBytes(frame.array(), 4, payload);
        } catch (IOException | RuntimeException | Error e) {
          // Part of the message may be in the pipe: the others must not read on past it.
          breakWith(WRITE_FAILED);
          throw e;
        }
        set(WRITING, 0);
      }
      if (s != null) {
        s.sent();
        set(CLAIMED, 0);
      }
      return true;
    } catch (IOException | RuntimeException | Error | InterruptedException e) {
      if (get(CLAIMED) != 0 && get(BROKEN) == 0) { // claimed, nothing sent: give it back
        set(CLAIMED, 0);
        slots.unclaim();
      }
      throw e;
    } finally {
      writeLock.unlock();
      leave();
    }
  }

  /** Waits for a slot in slices, so that a close here or the queue breaking ends the wait. */
  private boolean claim(Slots s, long deadline)
      throws InterruptedException, ClosedChannelException, BrokenQueueException {
    if (deadline == NO_WAIT) {
      return s.claim(System.nanoTime());
    }
    for (; ; ) {
      long now = System.nanoTime();
      long slice = now + LOCK_SLICE_NANOS;
      boolean last = deadline != Long.MAX_VALUE && deadline - slice <= 0;
      if (s.claim(last ? deadline : slice)) {
        return true;
      }
      if (last) {
        return false;
      }
      if (closed) {
        throw new AsynchronousCloseException();
      }
      checkNotBroken();
    }
  }

  /**
   * Removes and returns the item at the head, waiting until there is one (CPython's {@code get}).
   * The message is received whole under the queue's read lock and decoded after the lock is given
   * back.
   *
   * @return the item; null if null was put
   * @throws BrokenQueueException if the queue is broken (see the class comment)
   * @throws EOFException if the queue is empty and every process has closed its sending end
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws StreamCorruptedException (or another {@link IOException} from the codec) if the item
   *     cannot be decoded; it is consumed and the next one can be taken
   * @throws InterruptedException if interrupted while waiting for the read lock
   * @throws IOException if receiving fails
   */
  @SuppressWarnings("unchecked") // the type parameter is the callers' word, as for a collection
  public E take() throws IOException, InterruptedException {
    return (E) receive(Long.MAX_VALUE);
  }

  /**
   * Receives and decodes one item, waiting until {@code deadline} for the read lock and for an
   * item.
   *
   * @param deadline a {@link System#nanoTime()} value, {@link Long#MAX_VALUE} for none, or {@link
   *     #NO_WAIT}
   * @return the item, or {@link #TIMED_OUT}
   */
  Object receive(long deadline) throws IOException, InterruptedException {
    if (reader.isClosed()) {
      throw new ClosedChannelException();
    }
    enter();
    ProcessLock readLock = state.lock();
    try {
      if (!lock(readLock, deadline, this::mayHaveItem)) {
        leave();
        return TIMED_OUT;
      }
    } catch (Throwable e) {
      leave();
      throw e;
    }
    byte[] message;
    try {
      if (readLock.previousOwnerDied() && get(READING) != 0) {
        throw breakWith(READER_DIED);
      }
      checkNotBroken();
      // Waiting consumes nothing: a death while waiting loses nothing.
      if (deadline == Long.MAX_VALUE) {
        reader.awaitReadable();
      } else if (deadline == NO_WAIT
          ? !reader.poll()
          : !reader.poll(java.time.Duration.ofNanos(deadline - System.nanoTime()))) {
        return TIMED_OUT;
      }
      set(READING, 1);
      try {
        message = reader.recvBytes();
      } catch (EOFException e) {
        set(READING, 0); // end of file on a message boundary: nothing was consumed
        throw e;
      } catch (IOException | RuntimeException | Error e) {
        breakWith(READ_FAILED); // a header may be consumed without its body
        throw e;
      }
      if (slots != null) {
        slots.received(); // inside the marks: a death before it is done breaks the queue
      }
      set(READING, 0);
    } finally {
      readLock.unlock();
      leave();
    }
    try {
      return reader.codec().decode(message, 0, message.length);
    } catch (EOFException e) {
      StreamCorruptedException sce =
          new StreamCorruptedException("encoded item is cut short: " + e.getMessage());
      sce.initCause(e);
      throw sce;
    }
  }

  /**
   * Whether the queue is empty now (CPython's {@code empty()}): approximate, since other processes
   * may put or take at any moment. Never waits, never consumes.
   *
   * @return true if no item is in the pipe
   * @throws ClosedChannelException if the queue is closed in this process
   * @throws IOException if poll fails
   */
  public boolean isEmpty() throws IOException {
    return !reader.poll();
  }

  /**
   * Closes this process's ends of the queue and its locks (CPython's {@code close()}); other
   * processes keep theirs. Idempotent, from any thread. A thread of this process blocked in {@code
   * take} or {@code put} is woken with {@link AsynchronousCloseException} and gives back the lock
   * it holds, so the other processes go on; the locks are closed here once no thread of this
   * process holds or waits for them. Consumers elsewhere see end of file once every process that
   * had the queue has closed it or ended.
   */
  @Override
  public void close() {
    closed = true;
    reader.close(); // wakes this process's threads blocked in the pipe; they give their locks back
    writer.close();
    users.incrementAndGet(); // the last thread out closes the locks, never while one is held here
    leave();
  }

  /** Counts a thread in; fails if the queue is closed. */
  private void enter() throws ClosedChannelException {
    users.incrementAndGet();
    if (closed) {
      leave();
      throw new ClosedChannelException();
    }
  }

  /** Counts a thread out; the last one out of a closed queue closes its locks. */
  private void leave() {
    if (users.decrementAndGet() == 0 && closed && locksClosed.compareAndSet(false, true)) {
      writeLock.close();
      state.close();
      if (slots != null) {
        slots.close();
      }
    }
  }

  /** Whether an item may be in the pipe now: worth waiting for the read lock. */
  private boolean mayHaveItem() {
    try {
      return reader.poll();
    } catch (IOException e) {
      return true; // the receive that follows reports it
    }
  }

  /** Whether this process has closed the queue. */
  boolean isClosed() {
    return closed;
  }

  /**
   * Takes a process lock, waiting in slices so that a close in this process, or the queue breaking,
   * ends the wait (a lock held by another process is not woken by closing our pipe ends).
   */
  private boolean lock(ProcessLock lock, long deadline, BooleanSupplier worthWaiting)
      throws InterruptedException, ClosedChannelException, BrokenQueueException {
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    if (lock.tryLock()) {
      return true; // free: one call, no clock
    }
    for (; ; ) {
      long slice = LOCK_SLICE_NANOS;
      if (deadline == NO_WAIT) {
        if (!worthWaiting.getAsBoolean()) {
          return false;
        }
        slice = NO_WAIT_SLICE_NANOS;
      } else if (deadline != Long.MAX_VALUE) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        slice = Math.min(slice, left);
      }
      if (lock.tryLock(slice, TimeUnit.NANOSECONDS)) {
        return true;
      }
      if (closed) {
        throw new AsynchronousCloseException();
      }
      checkNotBroken(); // the holder may be stuck in a torn message for good
    }
  }

  @Override
  public String toString() {
    return "SimpleQueue[" + reader + ", " + writer + "]";
  }

  /** The read lock (for tests in this package). */
  ProcessLock readLock() {
    return state.lock();
  }

  /** The write lock (for tests in this package). */
  ProcessLock writeLock() {
    return writeLock;
  }

  /** Marks a slot claimed as a put does before it sends (for tests in this package). */
  void markClaimedForTest() {
    set(CLAIMED, 1);
  }

  /** The sending end (for tests in this package, which write raw bytes to it). */
  Connection writer() {
    return writer;
  }

  private int get(long cell) {
    return (int) CELL.getVolatile(cells(), cell);
  }

  private void set(long cell, int value) {
    CELL.setVolatile(cells(), cell, value);
  }

  private MemorySegment cells() {
    return state.segment();
  }

  private void checkNotBroken() throws BrokenQueueException {
    int why = get(BROKEN);
    if (why != 0) {
      throw broken(why);
    }
  }

  /** Marks the queue broken everywhere (keeping the first reason) and says why. */
  private BrokenQueueException breakWith(int why) {
    CELL.compareAndSet(cells(), BROKEN, 0, why);
    return broken(get(BROKEN));
  }

  private static BrokenQueueException broken(int why) {
    return new BrokenQueueException(
        switch (why) {
          case READER_DIED ->
              "the queue is broken: a consumer died while reading an item, so the pipe is no"
                  + " longer at a message boundary";
          case WRITER_DIED ->
              "the queue is broken: a producer died while writing an item, so the pipe holds part"
                  + " of a message";
          case READ_FAILED ->
              "the queue is broken: a take failed in the middle of an item, so the pipe is no"
                  + " longer at a message boundary";
          case WRITE_FAILED ->
              "the queue is broken: a put failed in the middle of an item, so the pipe may hold"
                  + " part of a message";
          default -> "the queue is broken (" + why + ")";
        });
  }

  /**
   * Goes to a child process as its pipe ends and locks: the child uses the same pipe and memory.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new Form(reader, writer, state.lock(), writeLock);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a SimpleQueue is serialized as its pipe and locks");
  }

  /**
   * What a queue becomes on its way to a child process: its ends and locks, which the child
   * process's stream turns into the inherited ones. Typed {@code Object}: they are not serializable
   * by other streams, so a queue goes nowhere but to a child process.
   */
  private static final class Form implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // replaced by the spawn stream, as intended
    private final Object reader;

    @SuppressWarnings("serial")
    private final Object writer;

    @SuppressWarnings("serial")
    private final Object readLock;

    @SuppressWarnings("serial")
    private final Object writeLock;

    Form(Connection reader, Connection writer, ProcessLock readLock, ProcessLock writeLock) {
      this.reader = reader;
      this.writer = writer;
      this.readLock = readLock;
      this.writeLock = writeLock;
    }

    @Serial
    private Object readResolve() throws InvalidObjectException {
      if (!(reader instanceof Connection r)
          || !(writer instanceof Connection w)
          || !(readLock instanceof ProcessLock rl)
          || !(writeLock instanceof ProcessLock wl)
          || !r.isReadable()
          || r.isWritable()
          || !w.isWritable()
          || w.isReadable()) {
        throw new InvalidObjectException("not a SimpleQueue's pipe and locks");
      }
      try {
        return new SimpleQueue<>(r, w, SharedCells.attach(rl, STATE_BYTES), wl);
      } catch (IOException e) {
        throw new InvalidObjectException("cannot map the queue's state: " + e.getMessage(), e);
      }
    }
  }
}
