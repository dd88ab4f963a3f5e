package io.jpipe.internal.shm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One direction of a shared-memory pipe: a byte ring with its cursors, sleeper counts and locks
 * (see {@link ShmLayout} for where they are). This class only reads and writes the memory; the
 * protocol (who may move which cursor when) is {@link ShmEnd}'s.
 *
 * <p>Publication: a writer copies a record's bytes, then stores the write cursor past it with a
 * volatile (release, and ordered before the following load of the sleeper count) store; a reader
 * loads the write cursor with acquire before it reads any byte below it. Consumption: a reader
 * copies a record out, then stores the read cursor past it; a writer loads the read cursor with
 * acquire before it overwrites any byte below {@code readCursor + capacity}.
 */
final class Ring {
  private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  final MemorySegment map;
  final long capacity;
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
    this.ctl = ShmLayout.RING_CONTROL + index * ShmLayout.RING_CONTROL_SIZE;
    this.data = ShmLayout.DATA + index * capacity;
    this.writeLock = new RingLock(map, ctl + ShmLayout.WRITE_LOCK);
    this.readLock = new RingLock(map, ctl + ShmLayout.READ_LOCK);
    this.readCursorAddress = map.address() + ctl + ShmLayout.READ_CURSOR;
    this.writeCursorAddress = map.address() + ctl + ShmLayout.WRITE_CURSOR;
  }

  long writeCursor() {
    return (long) LONG.getAcquire(map, ctl + ShmLayout.WRITE_CURSOR);
  }

  long readCursor() {
    return (long) LONG.getAcquire(map, ctl + ShmLayout.READ_CURSOR);
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

  int readFutexSleepers() {
    return (int) INT.getVolatile(map, ctl + ShmLayout.READ_FUTEX_SLEEPERS);
  }

  void addReadFutexSleeper(int delta) {
    INT.getAndAdd(map, ctl + ShmLayout.READ_FUTEX_SLEEPERS, delta);
  }

  int writeSleepers() {
    return (int) INT.getVolatile(map, ctl + ShmLayout.WRITE_SLEEPERS);
  }

  void addWriteSleeper(int delta) {
    INT.getAndAdd(map, ctl + ShmLayout.WRITE_SLEEPERS, delta);
  }

  long header(long pos) {
    return map.get(ValueLayout.JAVA_LONG, data + (pos & mask));
  }

  void putHeader(long pos, long header) {
    map.set(ValueLayout.JAVA_LONG, data + (pos & mask), header);
  }

  void copyIn(long pos, MemorySegment src, long off, long n) {
    long at = pos & mask;
    long first = Math.min(n, capacity - at);
    MemorySegment.copy(src, off, map, data + at, first);
    if (first < n) {
      MemorySegment.copy(src, off + first, map, data, n - first);
    }
  }

  void copyIn(long pos, byte[] src, int off, int n) {
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
    MemorySegment.copy(map, data + at, dst, off, first);
    if (first < n) {
      MemorySegment.copy(map, data, dst, off + first, n - first);
    }
  }

  void copyOut(long pos, byte[] dst, int off, int n) {
    long at = pos & mask;
    int first = (int) Math.min(n, capacity - at);
    MemorySegment.copy(map, ValueLayout.JAVA_BYTE, data + at, dst, off, first);
    if (first < n) {
      MemorySegment.copy(map, ValueLayout.JAVA_BYTE, data, dst, off + first, n - first);
    }
  }
}
