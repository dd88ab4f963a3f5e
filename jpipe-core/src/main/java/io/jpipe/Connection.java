package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FrameBuffer;
import io.jpipe.internal.io.Frames;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.jfr.ConnectionTraffic;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Memory;
import io.jpipe.internal.shm.ShmEnd;
import java.io.EOFException;
import java.io.IOException;
import java.io.StreamCorruptedException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.InterruptibleChannel;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One end of a pipe or socket: sends and receives whole messages (CPython's {@code
 * multiprocessing.connection.Connection}).
 *
 * <p>Messages are framed exactly as CPython frames them, so either end may be a Python process.
 * {@link #send}/{@link #recv} carry objects through the connection's {@link Codec} (Java
 * serialization unless you set another); {@link #sendBytes}/{@link #recvBytes} carry raw bytes.
 * Each {@code send*} produces one message and each {@code recv*} consumes one.
 *
 * <pre>{@code
 * try (Pipe pipe = Pipe.open()) {
 *   pipe.conn2().send(List.of(1, 2.5, "three"));
 *   Object got = pipe.conn1().recv();          // [1, 2.5, three]
 *   pipe.conn1().sendBytes("hi".getBytes(UTF_8));
 *   byte[] bytes = pipe.conn2().recvBytes();   // "hi"
 * }
 * }</pre>
 *
 * <h2>End of file</h2>
 *
 * A receive throws {@link EOFException} when no message is left and every copy of the peer end is
 * closed, in every process: the kernel counts the copies, so a process that does not use an end it
 * holds must close it (see the source document's first example). End of file in the middle of a
 * message is a {@link TruncatedMessageException} instead.
 *
 * <h2>Threads and processes</h2>
 *
 * <p>One connection may be used by many threads of one JVM: every message is sent and received
 * whole, under a write lock and a read lock (CPython tears messages here). {@link #close()} from
 * another thread wakes a thread blocked in a receive, send or poll with {@link
 * java.nio.channels.AsynchronousCloseException}; interrupting a blocked thread closes the
 * connection and throws {@link ClosedByInterruptException} with the interrupt status kept, as for
 * any {@link InterruptibleChannel}.
 *
 * <p>A blocking call waits in the kernel ({@code poll}), not in the JDK's scheduler, so a virtual
 * thread blocked on a connection pins its carrier thread for the wait. Many virtual threads each
 * waiting on their own connection therefore need as many carriers; wait on many connections from
 * one thread with {@link Connections#waitAny} instead, or use platform threads.
 *
 * <p>Across processes the locks do not reach: several processes that send on, or receive from, the
 * same end must share a {@code ProcessLock}. Without a lock only this is safe: several processes
 * sending on the same one-way pipe (not a duplex pipe, which is a socket) messages whose payload is
 * at most 4092 bytes, because the kernel writes up to PIPE_BUF (4096) bytes to a pipe atomically
 * and each such message is one write of header and payload. Receiving from several processes always
 * needs the lock. An end of a shared-memory pipe ({@link Pipe.Builder#sharedMemory}) needs none:
 * any number of processes may send on it and receive from it, each message whole and exactly once.
 *
 * <h2>Errors</h2>
 *
 * <table class="striped">
 * <caption>Exceptions and their CPython counterparts</caption>
 * <tr><th>CPython</th><th>jpipe</th></tr>
 * <tr><td>{@code EOFError}</td><td>{@link EOFException}</td></tr>
 * <tr><td>{@code OSError('handle is closed')}</td><td>{@link ClosedChannelException}</td></tr>
 * <tr><td>{@code OSError('connection is write-only')}</td>
 *     <td>{@link NonReadableChannelException}</td></tr>
 * <tr><td>{@code OSError('connection is read-only')}</td>
 *     <td>{@link NonWritableChannelException}</td></tr>
 * <tr><td>{@code OSError('bad message length')}</td><td>{@link MessageTooLongException}</td></tr>
 * <tr><td>{@code OSError('got end of file during message')}</td>
 *     <td>{@link TruncatedMessageException}</td></tr>
 * <tr><td>(a negative length: CPython returns {@code b''})</td><td>{@link ProtocolException}</td></tr>
 * <tr><td>{@code BufferTooShort}</td><td>{@link BufferTooShortException}</td></tr>
 * <tr><td>{@code BrokenPipeError}</td><td>{@link BrokenPipeException}</td></tr>
 * <tr><td>{@code ValueError} (bad offset, size, maxlength)</td>
 *     <td>{@link IndexOutOfBoundsException}, {@link IllegalArgumentException}</td></tr>
 * <tr><td>pickling error</td>
 *     <td>{@link java.io.NotSerializableException} etc.; nothing is sent</td></tr>
 * </table>
 *
 * <p>Checks happen in CPython's order: closed, then direction, then arguments, then I/O.
 *
 * <p>An end of a shared-memory pipe treats its segment as it treats bytes on the wire: a segment
 * that another process holding it corrupted (cursors, record headers, lock words that no correct
 * peer writes) makes a receive throw {@link ProtocolException}, after which this end stops being
 * readable as after a malformed header, and makes a send throw {@link ProtocolException} without
 * writing anything. A length that a corrupt segment claims is handled as a kernel pipe's header:
 * {@link MessageTooLongException} if it cannot be carried, memory taken only as bytes arrive.
 */
public final class Connection implements InterruptibleChannel {
  static {
    Access.setConnectionAccess(
        new Access.ConnectionAccess() {
          @Override
          public Connection newConnection(
              FdChannel channel, boolean readable, boolean writable, Codec codec) {
            return new Connection(channel, readable, writable, codec);
          }

          @Override
          public FdChannel channel(Connection connection) {
            return connection.ch;
          }

          @Override
          public Connection newShmConnection(
              ShmEnd end, boolean readable, boolean writable, Codec codec) {
            return new Connection(end, readable, writable, codec);
          }

          @Override
          public ShmEnd shm(Connection connection) {
            return connection.shm;
          }
        });
  }

  /** Bodies up to this size are received into a reused per-thread buffer before decoding. */
  private static final int RECV_BUFFER_MAX = 1 << 20;

  private static final ThreadLocal<byte[][]> RECV_BUFFER =
      ThreadLocal.withInitial(() -> new byte[][] {new byte[256]});

  private final FdChannel ch;

  /** The shared-memory transport, or null for an end on the kernel's socket or pipe alone. */
  private final ShmEnd shm;

  private final boolean writable;
  private volatile boolean readable;
  private volatile Codec codec;
  private final ReentrantLock readLock = new ReentrantLock();
  private final ReentrantLock writeLock = new ReentrantLock();
  private final ConnectionTraffic traffic; // counted under the locks; reported to JFR on close

  Connection(FdChannel ch, boolean readable, boolean writable, Codec codec) {
    this(ch, null, readable, writable, codec);
  }

  Connection(ShmEnd shm, boolean readable, boolean writable, Codec codec) {
    this(shm.channel(), shm, readable, writable, codec);
  }

  private Connection(FdChannel ch, ShmEnd shm, boolean readable, boolean writable, Codec codec) {
    if (!readable && !writable) {
      throw new IllegalArgumentException("at least one of readable and writable must be true");
    }
    this.ch = ch;
    this.shm = shm;
    this.readable = readable;
    this.writable = writable;
    this.codec = Objects.requireNonNull(codec, "codec");
    this.traffic = new ConnectionTraffic(ch.fd(), kindName(ch), direction());
    ch.addAfterClose(traffic);
  }

  // ---------------------------------------------------------------- objects

  /**
   * Sends an object as one message, encoded by this connection's codec (CPython's {@code send}).
   * The object is encoded completely before anything is written, so an object that cannot be
   * encoded sends nothing.
   *
   * @param obj the object; {@code null} is allowed by the default codec
   * @throws ClosedChannelException if this end is closed
   * @throws NonWritableChannelException if this end only receives
   * @throws java.io.NotSerializableException (or another {@link IOException} from the codec) if the
   *     object cannot be encoded; nothing was sent
   * @throws BrokenPipeException if the peer end is closed in every process
   * @throws IOException if sending fails
   */
  public void send(Object obj) throws IOException {
    ensureWritableEnd();
    FrameBuffer frame = FrameBuffer.acquire();
    try {
      codec.encode(obj, frame);
      lockWrite();
      try {
        if (shm != null) {
          shm.write(Scratch.get(), frame.array(), 4, frame.payloadLength());
        } else {
          Frames.writeFramed(
              ch, Scratch.get(), frame.array(), frame.frameLength(), FdChannel.NO_DEADLINE);
        }
        traffic.sent(frame.payloadLength());
      } finally {
        unlockWrite();
      }
    } finally {
      frame.release();
    }
  }

  /**
   * Receives one message and decodes it with this connection's codec (CPython's {@code recv}).
   * Blocks until a whole message has arrived.
   *
   * @return the decoded object
   * @throws EOFException if the peer end is closed everywhere and no message is left
   * @throws ClosedChannelException if this end is closed
   * @throws NonReadableChannelException if this end only sends
   * @throws StreamCorruptedException if the message is empty or not a complete encoding (the
   *     message is consumed; the next one can be received)
   * @throws java.io.InvalidClassException if the codec refuses a class (unknown, or rejected by a
   *     filter); the message is consumed
   * @throws TruncatedMessageException if the peer closed in the middle of the message
   * @throws IOException if receiving fails
   */
  public Object recv() throws IOException {
    ensureReadableEnd();
    Codec c;
    byte[] body;
    int length;
    for (; ; ) {
      Scratch s = lockRead();
      try {
        long n = readHeaderOrEof(s);
        c = codec;
        if (n <= RECV_BUFFER_MAX) {
          length = (int) n;
          byte[][] holder = RECV_BUFFER.get();
          body = holder[0];
          if (body.length < length) {
            body = holder[0] = new byte[Math.max(length, 2 * body.length)];
          }
          readBodyInto(s, body, 0, length);
        } else {
          body = readBodyArray(s, n);
          length = body.length;
        }
        traffic.received(length);
        break;
      } catch (ShmEnd.Abandoned e) {
        continue; // its writer died in the middle of it: the next message
      } catch (RuntimeException | Error e) {
        stopReading(); // a header may be consumed without its body: the stream is out of step
        throw e;
      } finally {
        unlockRead();
      }
    }
    try {
      return c.decode(body, 0, length);
    } catch (EOFException e) {
      StreamCorruptedException sce =
          new StreamCorruptedException("encoded object is cut short: " + e.getMessage());
      sce.initCause(e);
      throw sce;
    }
  }

  /**
   * Receives one object and checks its type.
   *
   * @param <T> the expected type
   * @param type the expected class; {@code null} passes
   * @return the object
   * @throws ClassCastException if the object is not of that type (the message is consumed)
   * @throws IOException as {@link #recv()}
   */
  public <T> T recv(Class<T> type) throws IOException {
    return type.cast(recv());
  }

  /**
   * The codec used by {@link #send} and {@link #recv}.
   *
   * @return the codec
   */
  public Codec codec() {
    return codec;
  }

  /**
   * Replaces the codec used by {@link #send} and {@link #recv}. Both ends must use codecs that
   * understand each other.
   *
   * @param codec the new codec
   * @return this connection
   */
  public Connection setCodec(Codec codec) {
    this.codec = Objects.requireNonNull(codec, "codec");
    return this;
  }

  // ---------------------------------------------------------------- sending bytes

  /**
   * Sends the whole array as one message (CPython's {@code send_bytes(buf)}).
   *
   * @param buf the bytes
   * @throws IOException as {@link #send}
   */
  public void sendBytes(byte[] buf) throws IOException {
    ensureWritableEnd();
    sendArray(buf, 0, buf.length);
  }

  /**
   * Sends the bytes from {@code offset} to the end as one message (CPython's {@code send_bytes(buf,
   * offset)}).
   *
   * @param buf the bytes
   * @param offset where the message starts; may equal {@code buf.length} (an empty message)
   * @throws IndexOutOfBoundsException with CPython's message when offset is out of range
   * @throws IOException as {@link #send}
   */
  public void sendBytes(byte[] buf, int offset) throws IOException {
    ensureWritableEnd();
    checkOffset(buf.length, offset);
    sendArray(buf, offset, buf.length - offset);
  }

  /**
   * Sends {@code size} bytes from {@code offset} as one message (CPython's {@code send_bytes(buf,
   * offset, size)}).
   *
   * @param buf the bytes
   * @param offset where the message starts
   * @param size how many bytes to send
   * @throws IndexOutOfBoundsException with CPython's message when offset or size is out of range
   * @throws IOException as {@link #send}
   */
  public void sendBytes(byte[] buf, int offset, int size) throws IOException {
    ensureWritableEnd();
    int n = buf.length;
    checkOffset(n, offset);
    if (size < 0) {
      throw new IndexOutOfBoundsException("size is negative: " + size);
    }
    if ((long) offset + size > n) {
      throw new IndexOutOfBoundsException(
          "buffer length < offset + size: " + n + " < " + offset + " + " + size);
    }
    sendArray(buf, offset, size);
  }

  /**
   * Sends the buffer's remaining bytes as one message and advances its position to its limit.
   *
   * @param buf the bytes between position and limit
   * @throws IOException as {@link #send}
   */
  public void sendBytes(ByteBuffer buf) throws IOException {
    ensureWritableEnd();
    if (buf.hasArray()) {
      sendArray(buf.array(), buf.arrayOffset() + buf.position(), buf.remaining());
    } else {
      sendSegment(MemorySegment.ofBuffer(buf));
    }
    buf.position(buf.limit());
  }

  /**
   * Sends the segment's bytes as one message. A native segment is sent without copying, header and
   * payload in one gathering write, and may be longer than 2 GiB (the long header form is used
   * above 2^31-1 bytes, as CPython does).
   *
   * @param payload the bytes
   * @throws IOException as {@link #send}
   */
  public void sendBytes(MemorySegment payload) throws IOException {
    ensureWritableEnd();
    checkUsable(payload);
    sendSegment(payload);
  }

  /** The kernel gets the segment's address: it must be alive and this thread's to use. */
  private static void checkUsable(MemorySegment segment) {
    if (!segment.scope().isAlive()) {
      throw new IllegalStateException("the segment's arena is closed");
    }
    if (!segment.isAccessibleBy(Thread.currentThread())) {
      throw new WrongThreadException("the segment is confined to another thread");
    }
  }

  private static void checkOffset(int length, int offset) {
    if (offset < 0) {
      throw new IndexOutOfBoundsException("offset is negative: " + offset);
    }
    if (length < offset) {
      throw new IndexOutOfBoundsException("buffer length < offset: " + length + " < " + offset);
    }
  }

  private void sendArray(byte[] buf, int offset, int size) throws IOException {
    lockWrite();
    try {
      if (shm != null) {
        shm.write(Scratch.get(), buf, offset, size);
      } else {
        Frames.writeMessage(ch, Scratch.get(), buf, offset, size, FdChannel.NO_DEADLINE);
      }
      traffic.sent(size);
    } finally {
      unlockWrite();
    }
  }

  private void sendSegment(MemorySegment payload) throws IOException {
    lockWrite();
    try {
      if (shm != null) {
        shm.write(Scratch.get(), payload);
      } else {
        Frames.writeMessage(ch, Scratch.get(), payload, FdChannel.NO_DEADLINE);
      }
      traffic.sent(payload.byteSize());
    } finally {
      unlockWrite();
    }
  }

  // ---------------------------------------------------------------- receiving bytes

  /**
   * Receives one message as a new array (CPython's {@code recv_bytes()}).
   *
   * @return the message
   * @throws EOFException if the peer end is closed everywhere and no message is left
   * @throws MessageTooLongException if the message is larger than an array can be (then this end
   *     stops being readable)
   * @throws IOException as {@link #recv()}
   */
  public byte[] recvBytes() throws IOException {
    return recvBytes(Integer.MAX_VALUE);
  }

  /**
   * Receives one message of at most {@code maxLength} bytes (CPython's {@code
   * recv_bytes(maxlength)}).
   *
   * <p>A longer message is not read: {@link MessageTooLongException} is thrown and, as in CPython,
   * this end stops being readable, since the stream is no longer at a message boundary: a duplex
   * end keeps sending ({@link #isReadable()} becomes false), a receive-only end is closed.
   *
   * @param maxLength the largest acceptable message
   * @return the message
   * @throws IllegalArgumentException if {@code maxLength} is negative
   * @throws MessageTooLongException if the message is longer than {@code maxLength}
   * @throws IOException as {@link #recvBytes()}
   */
  public byte[] recvBytes(int maxLength) throws IOException {
    ensureReadableEnd();
    if (maxLength < 0) {
      throw new IllegalArgumentException("negative maxLength: " + maxLength);
    }
    for (; ; ) {
      try {
        return recvBytesOnce(maxLength);
      } catch (ShmEnd.Abandoned e) {
        // its writer died in the middle of it: the next message
      }
    }
  }

  private byte[] recvBytesOnce(int maxLength) throws IOException {
    Scratch s = lockRead();
    try {
      long n = readHeaderOrEof(s);
      if (n > maxLength) {
        throw badLength(new MessageTooLongException(n, maxLength));
      }
      byte[] body = readBodyArray(s, n);
      traffic.received(n);
      return body;
    } catch (RuntimeException | Error e) {
      stopReading(); // a header may be consumed without its body: the stream is out of step
      throw e;
    } finally {
      unlockRead();
    }
  }

  /**
   * Receives one message into memory allocated from {@code arena}: the path for large payloads, up
   * to 2^63-1 bytes. Bodies above 64 MiB are received into memory that the kernel commits only as
   * the bytes arrive, so a header that lies about the length costs nothing.
   *
   * @param arena where the message's memory is allocated
   * @param maxLength the largest acceptable message
   * @return a segment holding exactly the message
   * @throws IllegalArgumentException if {@code maxLength} is negative
   * @throws MessageTooLongException if the message is longer than {@code maxLength}, or its memory
   *     cannot be reserved (then this end stops being readable)
   * @throws IOException as {@link #recvBytes()}
   */
  public MemorySegment recvBytes(Arena arena, long maxLength) throws IOException {
    ensureReadableEnd();
    Objects.requireNonNull(arena, "arena");
    if (!arena.scope().isAlive()) {
      throw new IllegalStateException("the arena is closed");
    }
    if (maxLength < 0) {
      throw new IllegalArgumentException("negative maxLength: " + maxLength);
    }
    for (; ; ) {
      try {
        return recvBytesOnce(arena, maxLength);
      } catch (ShmEnd.Abandoned e) {
        // its writer died in the middle of it: the next message
      }
    }
  }

  private MemorySegment recvBytesOnce(Arena arena, long maxLength) throws IOException {
    Scratch s = lockRead();
    try {
      long n = readHeaderOrEof(s);
      if (n > maxLength) {
        throw badLength(new MessageTooLongException(n, maxLength));
      }
      if (n <= Frames.GROW_THRESHOLD) {
        MemorySegment seg = arena.allocate(Math.max(n, 1)).asSlice(0, n);
        readBody(s, seg);
        traffic.received(n);
        return seg;
      }
      MemorySegment seg;
      try {
        seg =
            shm != null
                ? readBodyReserved(s, n, arena)
                : Frames.readBodyReserved(ch, s, n, arena, FdChannel.NO_DEADLINE);
      } catch (MessageTooLongException e) {
        throw badLength(e);
      }
      traffic.received(n);
      return seg;
    } catch (RuntimeException | Error e) {
      stopReading(); // a header may be consumed without its body: the stream is out of step
      throw e;
    } finally {
      unlockRead();
    }
  }

  /**
   * Receives one message of any length into memory allocated from {@code arena}; as {@link
   * #recvBytes(Arena, long)} with no limit.
   *
   * @param arena where the message's memory is allocated
   * @return a segment holding exactly the message
   * @throws IOException as {@link #recvBytes(Arena, long)}
   */
  public MemorySegment recvBytes(Arena arena) throws IOException {
    return recvBytes(arena, Long.MAX_VALUE);
  }

  /**
   * Receives one message into {@code buf} from index 0 (CPython's {@code recv_bytes_into(buf)}).
   *
   * @param buf where the message goes
   * @return the message's length
   * @throws BufferTooShortException if the message is longer than {@code buf}; the message was
   *     consumed and the exception carries it
   * @throws IOException as {@link #recvBytes()}
   */
  public int recvBytesInto(byte[] buf) throws IOException {
    return recvBytesInto(buf, 0);
  }

  /**
   * Receives one message into {@code buf} from {@code offset} (CPython's {@code
   * recv_bytes_into(buf, offset)}).
   *
   * @param buf where the message goes
   * @param offset where in {@code buf} the message starts; may equal {@code buf.length}
   * @return the message's length
   * @throws IndexOutOfBoundsException if {@code offset} is negative or beyond the array
   * @throws BufferTooShortException if the message is longer than the space from {@code offset};
   *     the message was consumed and the exception carries it
   * @throws IOException as {@link #recvBytes()}
   */
  public int recvBytesInto(byte[] buf, int offset) throws IOException {
    ensureReadableEnd();
    if (offset < 0) {
      throw new IndexOutOfBoundsException("negative offset: " + offset);
    }
    if (offset > buf.length) {
      throw new IndexOutOfBoundsException("offset too large: " + offset + " > " + buf.length);
    }
    return recvIntoArray(buf, offset, buf.length - offset);
  }

  /**
   * Receives one message into the buffer's remaining space and advances its position past it.
   *
   * @param dst where the message goes, from its position
   * @return the message's length
   * @throws ReadOnlyBufferException if {@code dst} is read-only (checked before reading, so no
   *     message is lost; CPython loses it)
   * @throws BufferTooShortException if the message is longer than {@code dst.remaining()}; the
   *     message was consumed and the exception carries it
   * @throws IOException as {@link #recvBytes()}
   */
  public int recvBytesInto(ByteBuffer dst) throws IOException {
    ensureReadableEnd();
    if (dst.isReadOnly()) {
      throw new ReadOnlyBufferException();
    }
    int n =
        dst.hasArray()
            ? recvIntoArray(dst.array(), dst.arrayOffset() + dst.position(), dst.remaining())
            : (int) recvInto(MemorySegment.ofBuffer(dst));
    dst.position(dst.position() + n);
    return n;
  }

  /**
   * Receives one message into the start of {@code dst}.
   *
   * @param dst where the message goes
   * @return the message's length
   * @throws BufferTooShortException if the message is longer than {@code dst}; the message was
   *     consumed and the exception carries it
   * @throws MessageTooLongException if the message is longer than {@code dst} and too long for an
   *     array to carry it (then this end stops being readable)
   * @throws IOException as {@link #recvBytes()}
   */
  public long recvBytesInto(MemorySegment dst) throws IOException {
    ensureReadableEnd();
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("read-only segment");
    }
    checkUsable(dst);
    return recvInto(dst);
  }

  private int recvIntoArray(byte[] buf, int offset, int space) throws IOException {
    for (; ; ) {
      try {
        return recvIntoArrayOnce(buf, offset, space);
      } catch (ShmEnd.Abandoned e) {
        // its writer died in the middle of it: the next message
      }
    }
  }

  private int recvIntoArrayOnce(byte[] buf, int offset, int space) throws IOException {
    Scratch s = lockRead();
    try {
      long n = readHeaderOrEof(s);
      if (n > space) {
        throw tooShort(s, n, space);
      }
      readBodyInto(s, buf, offset, (int) n);
      traffic.received(n);
      return (int) n;
    } catch (RuntimeException | Error e) {
      stopReading(); // a header may be consumed without its body: the stream is out of step
      throw e;
    } finally {
      unlockRead();
    }
  }

  private long recvInto(MemorySegment dst) throws IOException {
    for (; ; ) {
      try {
        return recvIntoOnce(dst);
      } catch (ShmEnd.Abandoned e) {
        // its writer died in the middle of it: the next message
      }
    }
  }

  private long recvIntoOnce(MemorySegment dst) throws IOException {
    Scratch s = lockRead();
    try {
      long n = readHeaderOrEof(s);
      long space = dst.byteSize();
      if (n > space) {
        if (n > Frames.MAX_ARRAY_LENGTH) {
          throw badLength(new MessageTooLongException(n, space));
        }
        throw tooShort(s, n, space);
      }
      if (shm != null) {
        shmBody(s, null, dst, 0, n);
      } else if (dst.isNative()) {
        Frames.readBodyInto(ch, s, dst.address(), n, FdChannel.NO_DEADLINE);
      } else {
        readBody(s, dst.asSlice(0, n));
      }
      traffic.received(n);
      return n;
    } catch (RuntimeException | Error e) {
      stopReading(); // a header may be consumed without its body: the stream is out of step
      throw e;
    } finally {
      unlockRead();
    }
  }

  // ---------------------------------------------------------------- polling

  /**
   * Whether a receive would find data now, without waiting (CPython's {@code poll()}). True also at
   * end of file, or when only part of a message has arrived; never consumes anything.
   *
   * @return true if readable now
   * @throws ClosedChannelException if this end is closed
   * @throws NonReadableChannelException if this end only sends
   * @throws IOException if poll fails
   */
  public boolean poll() throws IOException {
    ensureReadableEnd();
    ch.acquire();
    try {
      return shm != null
          ? shm.readableNow(Scratch.get())
          : ch.readyNow(Scratch.get(), Linux.POLLIN);
    } finally {
      ch.release();
    }
  }

  /**
   * Waits up to {@code timeout} until a receive would find data (CPython's {@code poll(timeout)}).
   * A zero or negative timeout returns at once.
   *
   * @param timeout the longest wait
   * @return true if readable, false if the time ran out
   * @throws java.nio.channels.AsynchronousCloseException if another thread closed this end
   * @throws ClosedByInterruptException if the thread was interrupted while waiting
   * @throws IOException as {@link #poll()}
   */
  public boolean poll(Duration timeout) throws IOException {
    ensureReadableEnd();
    long nanos = Durations.toNanos(timeout);
    if (nanos <= 0) {
      return poll();
    }
    long deadline = FdChannel.deadlineAfter(nanos);
    ch.acquire();
    try {
      Scratch s = Scratch.get();
      if (shm != null) {
        return shm.readableNow(s) || shm.awaitReadable(s, deadline);
      }
      return ch.readyNow(s, Linux.POLLIN) || ch.await(s, Linux.POLLIN, deadline);
    } finally {
      ch.release();
    }
  }

  /**
   * Waits without limit until a receive would find data (CPython's {@code poll(None)}).
   *
   * @throws java.nio.channels.AsynchronousCloseException if another thread closed this end
   * @throws ClosedByInterruptException if the thread was interrupted while waiting
   * @throws IOException as {@link #poll()}
   */
  public void awaitReadable() throws IOException {
    ensureReadableEnd();
    ch.acquire();
    try {
      Scratch s = Scratch.get();
      if (shm != null) {
        if (!shm.readableNow(s)) {
          shm.awaitReadable(s, FdChannel.NO_DEADLINE);
        }
      } else if (!ch.readyNow(s, Linux.POLLIN)) {
        ch.await(s, Linux.POLLIN, FdChannel.NO_DEADLINE);
      }
    } finally {
      ch.release();
    }
  }

  // ---------------------------------------------------------------- state

  /**
   * The file descriptor of this end: a real kernel descriptor, a socket for a duplex pipe and a
   * pipe for a one-way pipe (CPython's {@code fileno()}). For a shared-memory pipe it is the socket
   * kept beside the rings: it is readable at end of file, but not reliably while messages wait
   * (they travel in shared memory); {@link Connections#waitAny} looks at the ring too.
   *
   * @return the descriptor
   * @throws ClosedChannelException if this end is closed
   */
  public int fileno() throws ClosedChannelException {
    ensureOpen();
    return ch.fd();
  }

  /**
   * Closes this end (idempotent, from any thread). A thread blocked on this end is woken with
   * {@link java.nio.channels.AsynchronousCloseException}. The descriptor is also closed if the
   * connection is garbage-collected. The peer sees end of file once every copy of this end, in
   * every process, is closed.
   */
  @Override
  public void close() {
    if (shm != null) {
      shm.close();
      return;
    }
    try {
      ch.close();
    } catch (IOException e) {
      throw new IllegalStateException(e); // implCloseChannel throws nothing
    }
  }

  /**
   * Whether this end is closed (CPython's {@code closed}).
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return !ch.isOpen() || ch.isClosed();
  }

  @Override
  public boolean isOpen() {
    return !isClosed();
  }

  /**
   * Whether this end carries its messages through shared memory ({@link Pipe.Builder#sharedMemory})
   * rather than through its socket or pipe.
   *
   * @return true for an end of a shared-memory pipe
   */
  public boolean isSharedMemory() {
    return shm != null;
  }

  /**
   * Whether this end receives (CPython's {@code readable}). Keeps its value after close; turns
   * false after {@link MessageTooLongException} or {@link ProtocolException} on a duplex end.
   *
   * @return true if this end receives
   */
  public boolean isReadable() {
    return readable;
  }

  /**
   * Whether this end sends (CPython's {@code writable}). Keeps its value after close.
   *
   * @return true if this end sends
   */
  public boolean isWritable() {
    return writable;
  }

  @Override
  public String toString() {
    return "Connection["
        + (isClosed() ? "closed" : "fd=" + ch.fd())
        + ", "
        + direction()
        + ", "
        + kindName(ch)
        + (shm != null ? ", shared memory" : "")
        + "]";
  }

  private String direction() {
    return readable && writable ? "duplex" : readable ? "receive-only" : "send-only";
  }

  private static String kindName(FdChannel ch) {
    return ch.kind().name().toLowerCase(java.util.Locale.ROOT);
  }

  // ---------------------------------------------------------------- internals

  private void ensureOpen() throws ClosedChannelException {
    if (isClosed()) {
      throw new ClosedChannelException();
    }
  }

  private void ensureReadableEnd() throws ClosedChannelException {
    ensureOpen();
    if (!readable) {
      throw new NonReadableChannelException();
    }
  }

  private void ensureWritableEnd() throws ClosedChannelException {
    ensureOpen();
    if (!writable) {
      throw new NonWritableChannelException();
    }
  }

  private Scratch lockRead() throws IOException {
    lockInterruptibly(readLock);
    try {
      ch.acquire();
    } catch (ClosedChannelException e) {
      readLock.unlock();
      throw e;
    }
    if (!readable) { // another thread hit a bad length while we waited for the lock
      unlockRead();
      throw new NonReadableChannelException();
    }
    return Scratch.get();
  }

  private void unlockRead() {
    if (shm != null) {
      shm.endRead(Scratch.get());
    }
    ch.release();
    readLock.unlock();
  }

  private void lockWrite() throws IOException {
    lockInterruptibly(writeLock);
    try {
      ch.acquire();
    } catch (ClosedChannelException e) {
      writeLock.unlock();
      throw e;
    }
  }

  private void unlockWrite() {
    ch.release();
    writeLock.unlock();
  }

  /** Waiting for the lock is blocking too: an interrupt closes the end, as NIO channels do. */
  private void lockInterruptibly(ReentrantLock lock) throws IOException {
    try {
      lock.lockInterruptibly();
    } catch (InterruptedException e) {
      close();
      Thread.currentThread().interrupt();
      throw new ClosedByInterruptException();
    }
  }

  private long readHeaderOrEof(Scratch s) throws IOException {
    long n;
    try {
      n = shm != null ? shm.beginRead(s) : Frames.readHeader(ch, s, FdChannel.NO_DEADLINE);
    } catch (ProtocolException e) {
      throw badLength(e);
    }
    if (n < 0) {
      throw new EOFException("end of file: the peer end is closed in every process");
    }
    return n;
  }

  /** The message did not fit: it is consumed (and counted), and the exception carries it. */
  private BufferTooShortException tooShort(Scratch s, long n, long space) throws IOException {
    byte[] body = readBodyArray(s, n);
    traffic.received(n);
    return new BufferTooShortException(body, space);
  }

  private byte[] readBodyArray(Scratch s, long n) throws IOException {
    if (shm != null) {
      if (n > Frames.MAX_ARRAY_LENGTH) {
        throw badLength(new MessageTooLongException(n, Frames.MAX_ARRAY_LENGTH));
      }
      // as on a kernel pipe, above the threshold the array grows as the bytes arrive: a length
      // that a corrupt segment claims cannot exhaust the heap by itself
      byte[] body = new byte[Math.min((int) n, Frames.GROW_THRESHOLD)];
      int off = 0;
      for (; ; ) {
        shmBody(s, body, null, off, body.length - off);
        off = body.length;
        if (off == n) {
          return body;
        }
        body = Arrays.copyOf(body, (int) Math.min(n, 2L * off));
      }
    }
    try {
      return Frames.readBodyArray(ch, s, n, FdChannel.NO_DEADLINE);
    } catch (MessageTooLongException e) {
      throw badLength(e);
    }
  }

  private void readBody(Scratch s, MemorySegment dst) throws IOException {
    if (shm != null) {
      shmBody(s, null, dst, 0, dst.byteSize());
    } else if (dst.byteSize() > 0) {
      Frames.readBody(ch, s, dst, FdChannel.NO_DEADLINE);
    }
  }

  private void readBodyInto(Scratch s, byte[] dst, int off, int n) throws IOException {
    if (shm != null) {
      shmBody(s, dst, null, off, n);
    } else {
      Frames.readBodyInto(ch, s, dst, off, n, FdChannel.NO_DEADLINE);
    }
  }

  /**
   * Part of a body from the ring; a corrupt segment stops reading, as a corrupt header does ({@link
   * #badLength}).
   */
  private void shmBody(Scratch s, byte[] arr, MemorySegment seg, long off, long n)
      throws IOException {
    try {
      shm.readBody(s, arr, seg, off, n);
    } catch (ProtocolException e) {
      throw badLength(e);
    }
  }

  /**
   * A large body from the ring into memory the kernel commits as it is written ({@code
   * MAP_NORESERVE}), owned by {@code arena} once complete.
   */
  private MemorySegment readBodyReserved(Scratch s, long n, Arena arena) throws IOException {
    MemorySegment map;
    try {
      map = Memory.mapReserve(s.errno, n);
    } catch (IOException e) {
      throw new MessageTooLongException(
          "message of " + n + " bytes: no memory can be reserved for it (" + e.getMessage() + ")",
          n,
          0);
    }
    boolean ok = false;
    try {
      shmBody(s, null, map, 0, n);
      ok = true;
    } finally {
      if (!ok) {
        Memory.unmap(map);
      }
    }
    return Memory.attach(map, arena);
  }

  /**
   * The stream is no longer at a message boundary: stop reading, as CPython's {@code
   * _bad_message_length} does (a duplex end keeps sending; a receive-only end is closed).
   */
  private <E extends IOException> E badLength(E e) {
    stopReading();
    return e;
  }

  private void stopReading() {
    if (writable) {
      readable = false;
    } else {
      close();
    }
  }
}
