package io.jpipe.internal.io;

import io.jpipe.MessageTooLongException;
import io.jpipe.ProtocolException;
import io.jpipe.TruncatedMessageException;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Memory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.SocketTimeoutException;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * CPython's message framing on a {@link FdChannel}: whole messages in, whole messages out.
 *
 * <pre>
 * length &lt;= 0x7fffffff:  +--------------------+------------------+
 *                         | int32 BE length    | payload          |
 *                         +--------------------+------------------+
 * length &gt;  0x7fffffff:  +-------------+---------------------+---------+
 *                         | FF FF FF FF | uint64 BE length    | payload |
 *                         +-------------+---------------------+---------+
 * </pre>
 *
 * <p>A receiver accepts the long form for any length, as CPython does. Any other negative 32-bit
 * length is a {@link ProtocolException} (CPython returns an empty message). Nothing here locks: the
 * caller holds the connection's read or write lock and a use count on the channel.
 */
public final class Frames {
  private Frames() {}

  /** Largest length sent with the 4-byte header. */
  public static final long MAX_SHORT_LENGTH = 0x7fffffffL;

  /** Largest byte[] the JVM reliably allocates. */
  public static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;

  /**
   * Bodies longer than this are read into a buffer that grows as the bytes arrive, so a header
   * alone never makes the receiver allocate more than this.
   */
  public static final int GROW_THRESHOLD = 64 << 20;

  private static final ValueLayout.OfInt INT_BE =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
  private static final ValueLayout.OfLong LONG_BE =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

  // ---------------------------------------------------------------- reading

  /**
   * Reads until {@code dst} is full or end of file.
   *
   * @return the bytes read, less than {@code dst.byteSize()} only at end of file
   */
  static long readFully(FdChannel ch, Scratch s, MemorySegment dst, long deadline)
      throws IOException {
    long n = dst.byteSize();
    long off = 0;
    boolean wait = false;
    while (off < n) {
      if (wait && !ch.await(s, Linux.POLLIN, deadline)) {
        throw new SocketTimeoutException("timed out waiting for a message");
      }
      long r = ch.readNow(s, off == 0 ? dst : dst.asSlice(off));
      if (r == 0) {
        break;
      }
      if (r > 0) {
        off += r;
      }
      wait = true;
    }
    return off;
  }

  /**
   * Reads until {@code length} bytes at {@code address} are filled or end of file. After a read
   * that got only part, the rest is most likely not there yet, so the next step is to wait, not a
   * read that would fail with EAGAIN.
   */
  static long readFully(FdChannel ch, Scratch s, long address, long length, long deadline)
      throws IOException {
    long off = 0;
    boolean wait = false;
    while (off < length) {
      if (wait && !ch.await(s, Linux.POLLIN, deadline)) {
        throw new SocketTimeoutException("timed out waiting for a message");
      }
      long r = ch.readNow(s, address + off, length - off);
      if (r > 0) {
        off += r;
        wait = true;
      } else if (r == 0) {
        break;
      } else {
        if (off == 0) {
          ch.pollBeforeRead = true;
        }
        wait = true;
      }
    }
    return off;
  }

  /**
   * Reads exactly {@code length} bytes into native memory.
   *
   * @return true if they all came, false at end of file
   * @throws SocketTimeoutException if the deadline passes
   * @throws IOException if reading fails
   */
  public static boolean readExactly(
      FdChannel ch, Scratch s, long address, long length, long deadline) throws IOException {
    return readFully(ch, s, address, length, deadline) == length;
  }

  /**
   * Reads the next header.
   *
   * @param ch the channel
   * @param s the calling thread's scratch
   * @param deadline see {@link FdChannel#await}
   * @return the message length, or -1 at end of file on a message boundary
   * @throws TruncatedMessageException at end of file inside the header
   * @throws ProtocolException for a negative length
   * @throws IOException if reading fails
   */
  public static long readHeader(FdChannel ch, Scratch s, long deadline) throws IOException {
    MemorySegment w = s.word;
    if (ch.pollBeforeRead) {
      long t = System.nanoTime();
      if (!ch.await(s, Linux.POLLIN, deadline)) {
        throw new SocketTimeoutException("timed out waiting for a message");
      }
      if (System.nanoTime() - t < 2_000) {
        ch.pollBeforeRead = false; // it did not wait: messages are arriving faster than we read
      }
    }
    long got = readFully(ch, s, s.wordAddress, 4, deadline);
    if (got < 4) {
      if (got == 0) {
        return -1;
      }
      throw new TruncatedMessageException(4, got, "header");
    }
    int n = w.get(INT_BE, 0);
    if (n >= 0) {
      return n;
    }
    if (n != -1) {
      throw new ProtocolException(
          "invalid message header: negative length " + n + " (0x" + Integer.toHexString(n) + ")");
    }
    got = readFully(ch, s, s.wordAddress + 4, 8, deadline);
    if (got < 8) {
      throw new TruncatedMessageException(12, 4 + got, "header");
    }
    long len = w.get(LONG_BE, 4);
    if (len < 0) {
      throw new ProtocolException(
          "invalid message header: length " + Long.toUnsignedString(len) + " exceeds 2^63-1");
    }
    return len;
  }

  /**
   * Reads a whole body of {@code dst.byteSize()} bytes.
   *
   * @throws TruncatedMessageException at end of file before the body is complete
   */
  public static void readBody(FdChannel ch, Scratch s, MemorySegment dst, long deadline)
      throws IOException {
    long got = readFully(ch, s, dst, deadline);
    if (got < dst.byteSize()) {
      throw new TruncatedMessageException(dst.byteSize(), got, "body");
    }
  }

  /**
   * Reads a whole body of {@code n} bytes into {@code dst} from {@code off}. A body that fits the
   * bounce buffer is read into it and copied, which costs no allocation; a larger one is read
   * straight into the array.
   *
   * @throws TruncatedMessageException at end of file before the body is complete
   */
  public static void readBodyInto(
      FdChannel ch, Scratch s, byte[] dst, int off, int n, long deadline) throws IOException {
    if (n == 0) {
      return;
    }
    if (n <= Scratch.BOUNCE_SIZE) {
      MemorySegment bounce = s.bounce(n);
      long got = readFully(ch, s, bounce.address(), n, deadline);
      if (got < n) {
        throw new TruncatedMessageException(n, got, "body");
      }
      MemorySegment.copy(bounce, ValueLayout.JAVA_BYTE, 0, dst, off, n);
    } else {
      readBody(ch, s, MemorySegment.ofArray(dst).asSlice(off, n), deadline);
    }
  }

  /**
   * Reads a whole body of {@code n} bytes into native memory at {@code address}.
   *
   * @throws TruncatedMessageException at end of file before the body is complete
   */
  public static void readBodyInto(FdChannel ch, Scratch s, long address, long n, long deadline)
      throws IOException {
    long got = readFully(ch, s, address, n, deadline);
    if (got < n) {
      throw new TruncatedMessageException(n, got, "body");
    }
  }

  /**
   * Reads a body of {@code length} bytes into a new array. Above {@link #GROW_THRESHOLD} the array
   * grows as bytes arrive, so a lying header cannot exhaust the heap by itself.
   *
   * @throws MessageTooLongException if {@code length} exceeds {@link #MAX_ARRAY_LENGTH}
   */
  public static byte[] readBodyArray(FdChannel ch, Scratch s, long length, long deadline)
      throws IOException {
    if (length > MAX_ARRAY_LENGTH) {
      throw new MessageTooLongException(length, MAX_ARRAY_LENGTH);
    }
    int n = (int) length;
    if (n <= GROW_THRESHOLD) {
      byte[] body = new byte[n];
      readBodyInto(ch, s, body, 0, n, deadline);
      return body;
    }
    byte[] body = new byte[GROW_THRESHOLD];
    int off = 0;
    while (off < n) {
      if (off == body.length) {
        body = Arrays.copyOf(body, (int) Math.min(n, 2L * body.length));
      }
      long want = body.length - off;
      long got = readFully(ch, s, MemorySegment.ofArray(body).asSlice(off, want), deadline);
      off += (int) got;
      if (got < want) {
        throw new TruncatedMessageException(n, off, "body");
      }
    }
    return body;
  }

  /**
   * Reads a body of {@code length} bytes into anonymous memory that the kernel commits only as
   * bytes arrive ({@code MAP_NORESERVE}), owned by {@code arena} once complete: a lying header
   * reserves address space, not memory.
   *
   * @throws MessageTooLongException if the address space cannot be reserved
   */
  public static MemorySegment readBodyReserved(
      FdChannel ch, Scratch s, long length, Arena arena, long deadline) throws IOException {
    MemorySegment map;
    try {
      map = Memory.mapReserve(s.errno, length);
    } catch (IOException e) {
      throw new MessageTooLongException(
          "message of "
              + length
              + " bytes: no memory can be reserved for it ("
              + e.getMessage()
              + ")",
          length,
          0);
    }
    boolean ok = false;
    try {
      readBody(ch, s, map, deadline);
      ok = true;
    } finally {
      if (!ok) {
        Memory.unmap(map);
      }
    }
    return Memory.attach(map, arena);
  }

  /**
   * Reads and drops {@code length} bytes (a message that cannot be delivered but must be consumed
   * to keep the stream in step).
   */
  public static void skipBody(FdChannel ch, Scratch s, long length, long deadline)
      throws IOException {
    long left = length;
    while (left > 0) {
      long chunk = Math.min(left, Scratch.BOUNCE_SIZE);
      long got = readFully(ch, s, s.bounce(chunk).address(), chunk, deadline);
      left -= got;
      if (got < chunk) {
        throw new TruncatedMessageException(length, length - left, "body");
      }
    }
  }

  // ---------------------------------------------------------------- writing

  /** Writes all of {@code src} (heap or native), waiting for room as needed. */
  static void writeFully(FdChannel ch, Scratch s, MemorySegment src, long deadline)
      throws IOException {
    long n = src.byteSize();
    long off = 0;
    boolean wait = false;
    while (off < n) {
      if (wait && !ch.await(s, Linux.POLLOUT, deadline)) {
        throw new SocketTimeoutException("timed out sending a message");
      }
      long r = ch.writeNow(s, off == 0 ? src : src.asSlice(off));
      if (r > 0) {
        off += r;
      }
      wait = true; // after a partial write (or none) the buffer is full: wait for room
    }
  }

  /** Writes {@code aLength} bytes at {@code a} then {@code bLength} at {@code b}, gathered. */
  static void writeFully(
      FdChannel ch, Scratch s, long a, long aLength, long b, long bLength, long deadline)
      throws IOException {
    long total = aLength + bLength;
    long off = 0;
    boolean wait = false;
    while (off < total) {
      if (wait && !ch.await(s, Linux.POLLOUT, deadline)) {
        throw new SocketTimeoutException("timed out sending a message");
      }
      long r;
      if (off >= aLength) {
        r = ch.writeNow(s, b + off - aLength, total - off);
      } else if (bLength == 0) {
        r = ch.writeNow(s, a + off, aLength - off);
      } else {
        r = ch.writeNow(s, a + off, aLength - off, b, bLength);
      }
      if (r > 0) {
        off += r;
      }
      wait = true; // after a partial write (or none) the buffer is full: wait for room
    }
  }

  /**
   * Writes the header for {@code length} at the start of {@code word}.
   *
   * @return the header's size, 4 or 12
   */
  static int putHeader(MemorySegment word, long length) {
    if (length <= MAX_SHORT_LENGTH) {
      word.set(INT_BE, 0, (int) length);
      return 4;
    }
    word.set(INT_BE, 0, -1);
    word.set(LONG_BE, 4, length);
    return 12;
  }

  /**
   * Writes the header for {@code length} at the start of {@code word} (for tests of the wire
   * format).
   *
   * @param word at least 12 bytes
   * @param length the message length
   * @return the header's size, 4 or 12
   */
  public static int putHeaderForTest(MemorySegment word, long length) {
    return putHeader(word, length);
  }

  /**
   * Sends one message whose payload is {@code n} bytes of {@code src} from {@code off}.
   *
   * <p>A payload that fits the bounce buffer with its header is copied behind the header and sent
   * in one write, as CPython does for up to 16 KiB, and with no allocation (a pipe write of at most
   * PIPE_BUF bytes is atomic, so such messages from several processes never interleave). A larger
   * one goes as the header, then the array itself.
   */
  public static void writeMessage(
      FdChannel ch, Scratch s, byte[] src, int off, int n, long deadline) throws IOException {
    int h = putHeader(s.word, n);
    if (h + n <= Scratch.BOUNCE_SIZE) {
      MemorySegment bounce = s.bounce(h + n);
      MemorySegment.copy(s.word, 0, bounce, 0, h);
      MemorySegment.copy(src, off, bounce, ValueLayout.JAVA_BYTE, h, n);
      writeFully(ch, s, bounce.address(), h + n, 0, 0, deadline);
    } else {
      writeFully(ch, s, s.wordAddress, h, 0, 0, deadline);
      writeFully(ch, s, MemorySegment.ofArray(src).asSlice(off, n), deadline);
    }
  }

  /**
   * Sends one message whose payload is {@code payload} (heap or native, any length). A native
   * payload goes with its header in one gathering write, without a copy.
   */
  public static void writeMessage(FdChannel ch, Scratch s, MemorySegment payload, long deadline)
      throws IOException {
    long n = payload.byteSize();
    int h = putHeader(s.word, n);
    if (payload.isNative()) {
      writeFully(ch, s, s.wordAddress, h, payload.address(), n, deadline);
    } else if (h + n <= Scratch.BOUNCE_SIZE) {
      MemorySegment bounce = s.bounce(h + n);
      MemorySegment.copy(s.word, 0, bounce, 0, h);
      MemorySegment.copy(payload, 0, bounce, h, n);
      writeFully(ch, s, bounce.address(), h + n, 0, 0, deadline);
    } else {
      writeFully(ch, s, s.wordAddress, h, 0, 0, deadline);
      writeFully(ch, s, payload, deadline);
    }
  }

  /**
   * Sends a frame already laid out in a heap array: its first 4 bytes are free for the header, the
   * payload follows (an encoded object).
   */
  public static void writeFramed(FdChannel ch, Scratch s, byte[] frame, int length, long deadline)
      throws IOException {
    int payload = length - 4;
    frame[0] = (byte) (payload >>> 24);
    frame[1] = (byte) (payload >>> 16);
    frame[2] = (byte) (payload >>> 8);
    frame[3] = (byte) payload;
    if (length <= Scratch.BOUNCE_SIZE) {
      MemorySegment bounce = s.bounce(length);
      MemorySegment.copy(frame, 0, bounce, ValueLayout.JAVA_BYTE, 0, length);
      writeFully(ch, s, bounce.address(), length, 0, 0, deadline);
    } else {
      writeFully(ch, s, MemorySegment.ofArray(frame).asSlice(0, length), deadline);
    }
  }
}
