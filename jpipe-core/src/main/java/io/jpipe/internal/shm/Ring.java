package io.jpipe.internal.shm;

import io.jpipe.internal.posix.Libc;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One direction of a shared-memory pipe: a byte ring with its cursors, wake requests, sleeper count
 * and locks (see {@link ShmLayout} for where they are). This class only reads and writes the
 * memory; the protocol (who may move which cursor when) is {@link ShmEnd}'s.
 *
 * <p>Publication: a writer copies a record's bytes, then stores the write cursor past it with a
 * volatile (release, and ordered before the following load of the wake request) store; a reader
 * loads the write cursor (volatile, so at least acquire) before it reads any byte below it.
 * Consumption: a reader copies a record out, then stores the read cursor past it; a writer loads
 * the read cursor (volatile) before it overwrites any byte below {@code readCursor + capacity}.
 */
final class Ring {
  private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  /**
   * Copies of at least this many bytes go through libc's {@code memcpy}: between processes (the
   * bytes in the other core's caches) it moved 1.4 (4 KiB messages) to 4 (1 MiB) times as many
   * bytes per second as the JVM's copy on the machine it was measured on; below, its call costs
   * what it saves.
   */
  static final long NATIVE_COPY_MIN = 4 << 10;

  /** The most one {@code memcpy} call copies: the JVM waits for it at a safepoint. */
  private static final long NATIVE_COPY_MAX = 1 << 20;

  final MemorySegment map;
  final long capacity;
  private final long base;
  private final long mask;
  private final long ctl;
  private final long data;

  /** Serializes writers across processes. */
  final RingLock writeLock;

  /** Serializes readers across processes. */
  final RingLock readLock;

  /** The futex word writers sleep on: the read cursor's low 32 bits (little-endian). */
  final long readCursorAddress;

  /** The futex word readers sleep on: the write cursor's low 32 bits (little-endian). */
  final long writeCursorAddress;

  Ring(MemorySegment map, int index, long capacity) {
    this.map = map;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.base = map.address();
    this.ctl = ShmLayout.RING_CONTROL + index * ShmLayout.RING_CONTROL_SIZE;
    this.data = ShmLayout.DATA + index * capacity;
    this.writeLock = new RingLock(map, ctl + ShmLayout.WRITE_LOCK);
    this.readLock = new RingLock(map, ctl + ShmLayout.READ_LOCK);
    this.readCursorAddress = map.address() + ctl + ShmLayout.READ_CURSOR;
    this.writeCursorAddress = map.address() + ctl + ShmLayout.WRITE_CURSOR;
  }

  // Cursors are loaded volatile, not merely with acquire: a sleeper's request to be woken (a
  // volatile store) must not pass its last look at the cursor (Dekker's pattern with the peer's
  // store of the cursor, then load of the request). On x86 either is a plain load.

  long writeCursor() {
    return (long) LONG.getVolatile(map, ctl + ShmLayout.WRITE_CURSOR);
  }

  long readCursor() {
    return (long) LONG.getVolatile(map, ctl + ShmLayout.READ_CURSOR);
  }

  /** Publishes everything below {@code w}. */
  void publish(long w) {
    LONG.setVolatile(map, ctl + ShmLayout.WRITE_CURSOR, w);
  }

  /** Gives back everything below {@code r}. */
  void commit(long r) {
    LONG.setVolatile(map, ctl + ShmLayout.READ_CURSOR, r);
  }

  int readSleepers() {
    return (int) INT.getVolatile(map, ctl + ShmLayout.READ_SLEEPERS);
  }

  void addReadSleeper(int delta) {
    INT.getAndAdd(map, ctl + ShmLayout.READ_SLEEPERS, delta);
  }

  /**
   * Asks the next writer to publish to wake the readers asleep on the write cursor; call before the
   * last look at the cursor that precedes the sleep.
   */
  void armReadWake() {
    INT.setVolatile(map, ctl + ShmLayout.READ_WAKE, 1);
  }

  /** Whether a reader asked to be woken, clearing the request: true for one caller per request. */
  boolean takeReadWake() {
    return (int) INT.getVolatile(map, ctl + ShmLayout.READ_WAKE) != 0
        && (int) INT.getAndSet(map, ctl + ShmLayout.READ_WAKE, 0) != 0;
  }

  /**
   * Asks the reader whose read cursor reaches {@code target} to wake the writer asleep on the read
   * cursor; call before the last look at the cursor that precedes the sleep.
   */
  void armRoomWake(long target) {
    LONG.setVolatile(map, ctl + ShmLayout.ROOM_WANTED, target);
    INT.setVolatile(map, ctl + ShmLayout.WRITE_WAKE, 1);
  }

  /** Withdraws a request of {@link #armRoomWake} (the writer stopped waiting). */
  void disarmRoomWake() {
    INT.setVolatile(map, ctl + ShmLayout.WRITE_WAKE, 0);
  }

  /**
   * Whether a writer asked to be woken once the read cursor reaches what {@code r}, the read cursor
   * just stored, reaches, clearing the request: true for one caller per request.
   */
  boolean takeRoomWake(long r) {
    return (int) INT.getVolatile(map, ctl + ShmLayout.WRITE_WAKE) != 0
        && r - (long) LONG.getVolatile(map, ctl + ShmLayout.ROOM_WANTED) >= 0
        && (int) INT.getAndSet(map, ctl + ShmLayout.WRITE_WAKE, 0) != 0;
  }

  /**
   * The header slot at {@code pos}, with acquire: the record's bytes are visible if it is not 0.
   */
  long header(long pos) {
    return (long) LONG.getAcquire(map, data + (pos & mask));
  }

  /** Stores a record's header with release: after its bytes, and after the next slot's clearing. */
  void putHeader(long pos, long header) {
    LONG.setRelease(map, data + (pos & mask), header);
  }

  /** Clears the header slot at {@code pos}, past the record about to be published. */
  void clearHeader(long pos) {
    map.set(ValueLayout.JAVA_LONG, data + (pos & mask), 0L);
  }

  void copyIn(long pos, MemorySegment src, long off, long n) {
    long at = pos & mask;
    long first = Math.min(n, capacity - at);
    put(data + at, src, off, first);
    if (first < n) {
      put(data, src, off + first, n - first);
    }
  }

  void copyIn(long pos, byte[] src, int off, int n) {
    if (n >= NATIVE_COPY_MIN) {
      copyIn(pos, MemorySegment.ofArray(src), off, n);
      return;
    }
    long at = pos & mask;
    int first = (int) Math.min(n, capacity - at);
    MemorySegment.copy(src, off, map, ValueLayout.JAVA_BYTE, data + at, first);
    if (first < n) {
      MemorySegment.copy(src, off + first, map, ValueLayout.JAVA_BYTE, data, n - first);
    }
  }

  void copyOut(long pos, MemorySegment dst, long off, long n) {
    long at = pos & mask;
    long first = Math.min(n, capacity - at);
    get(data + at, dst, off, first);
    if (first < n) {
      get(data, dst, off + first, n - first);
    }
  }

  void copyOut(long pos, byte[] dst, int off, int n) {
    if (n >= NATIVE_COPY_MIN) {
      copyOut(pos, MemorySegment.ofArray(dst), off, n);
      return;
    }
    long at = pos & mask;
    int first = (int) Math.min(n, capacity - at);
    MemorySegment.copy(map, ValueLayout.JAVA_BYTE, data + at, dst, off, first);
    if (first < n) {
      MemorySegment.copy(map, ValueLayout.JAVA_BYTE, data, dst, off + first, n - first);
    }
  }

  /** Copies {@code n} bytes of {@code src} from {@code off} to the map at {@code to}. */
  private void put(long to, MemorySegment src, long off, long n) {
    if (n < NATIVE_COPY_MIN) {
      MemorySegment.copy(src, off, map, to, n);
      return;
    }
    for (long done = 0; done < n; done += NATIVE_COPY_MAX) {
      long k = Math.min(n - done, NATIVE_COPY_MAX);
      Libc.memcpyToAddress(base + to + done, src.asSlice(off + done, k), k);
    }
  }

  /** Copies {@code n} bytes of the map at {@code from} to {@code dst} from {@code off}. */
  private void get(long from, MemorySegment dst, long off, long n) {
    if (n < NATIVE_COPY_MIN) {
      MemorySegment.copy(map, from, dst, off, n);
      return;
    }
    for (long done = 0; done < n; done += NATIVE_COPY_MAX) {
      long k = Math.min(n - done, NATIVE_COPY_MAX);
      Libc.memcpyFromAddress(dst.asSlice(off + done, k), base + from + done, k);
    }
  }
}
