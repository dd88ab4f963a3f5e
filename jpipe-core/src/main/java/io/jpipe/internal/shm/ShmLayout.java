package io.jpipe.internal.shm;

/**
 * Where everything is in a shared-memory pipe's segment (one {@code memfd}, mapped {@code
 * MAP_SHARED} by every process that holds an end).
 *
 * <pre>
 * offset                 contents
 * 0                      header: MAGIC (int), VERSION (int), ring count (int), capacity (long)
 * RING_CONTROL + r*512   control block of ring r, four cache lines of 64 bytes, then two more:
 *   +0    WRITE_CURSOR     long: bytes ever published by writers (release store after the bytes);
 *                          its low 32 bits (little-endian) are the futex word on which readers
 *                          of platform threads sleep
 *   +8    READ_SLEEPERS    int: readers sleeping on the socket for this ring (virtual threads,
 *                          waitAny; writers ring a doorbell only when it is not 0)
 *   +12   READ_WAKE        int: not 0 when a reader may sleep on the write cursor's futex; the
 *                          next writer to publish clears it and wakes (once, however many publish)
 *   +64   READ_CURSOR      long: bytes ever consumed by readers; its low 32 bits (little-endian)
 *                          are the futex word on which writers sleep for room
 *   +72   WRITE_WAKE       int: not 0 when a writer may sleep on that futex for room up to
 *   +80   ROOM_WANTED      long: this read cursor; the reader that reaches it clears the flag and
 *                          wakes (once)
 *   +128  WRITE_LOCK       int: robust lock word serializing writers ({@link RingLock})
 *   +192  READ_LOCK        int: robust lock word serializing readers
 * SLOT_GENERATIONS       int[MAX_SLOTS]: generation of each attachment slot ({@link ShmSegment})
 * DATA                   ring 0's bytes (capacity), then ring 1's
 * </pre>
 *
 * <p>Ring r carries messages to end r: end 0 ({@code conn1}) reads ring 0 and writes ring 1. A
 * one-way pipe has ring 0 only. Cursors only grow; a byte at cursor {@code c} lives at {@code DATA
 * + r*capacity + (c & (capacity-1))}. Records start at multiples of 8, so a record's 8-byte header
 * never wraps; its payload may.
 *
 * <p>A record's header is never 0, and the 8 bytes at the write cursor are 0 until the next
 * record's header is stored there: a writer clears the header slot past its record (so it needs 8
 * bytes of room more than the record) before it stores its record's header with release, then
 * stores the write cursor. A reader therefore waits on the header slot at its read cursor, the
 * cache line the record itself is in, and loads the write cursor only to sleep on it.
 *
 * <pre>
 * record:  | header (long) | payload, padded to a multiple of 8 |
 * header:  bits 63..62 type (never 0: a 0 header is no record), bits 61..0 length
 *   WHOLE  a whole message of length bytes (at most ShmEnd.PIECE; the record and 8 bytes fit)
 *   FIRST  a message of length bytes follows as CHUNK records (no payload of its own)
 *   CHUNK  length bytes of the message begun by the last FIRST
 * </pre>
 */
final class ShmLayout {
  private ShmLayout() {}

  static final int MAGIC = 0x4a50_534d; // "JPSM"
  static final int VERSION = 3;

  static final long HDR_MAGIC = 0;
  static final long HDR_VERSION = 4;
  static final long HDR_RINGS = 8;
  static final long HDR_CAPACITY = 16;

  static final long RING_CONTROL = 512;
  static final long RING_CONTROL_SIZE = 512;

  static final long WRITE_CURSOR = 0;
  static final long READ_SLEEPERS = 8;
  static final long READ_WAKE = 12;
  static final long READ_CURSOR = 64;
  static final long WRITE_WAKE = 72;
  static final long ROOM_WANTED = 80;
  static final long WRITE_LOCK = 128;
  static final long READ_LOCK = 192;

  /** Attachment slots: 1..MAX_SLOTS-1 (0 is never a slot, so a token is never 0). */
  static final int MAX_SLOTS = 1024;

  static final long SLOT_GENERATIONS = 4096;

  /** Where ring 0's bytes start (page-aligned). */
  static final long DATA = 8192;

  /** Smallest ring capacity. */
  static final long MIN_CAPACITY = 4096;

  /** Largest ring capacity (1 GiB). */
  static final long MAX_CAPACITY = 1L << 30;

  /** Default ring capacity (1 MiB). */
  static final long DEFAULT_CAPACITY = 1L << 20;

  static final long TYPE_WHOLE = 1L << 62;
  static final long TYPE_FIRST = 2L << 62;
  static final long TYPE_CHUNK = 3L << 62;
  static final long TYPE_MASK = 3L << 62;
  static final long LENGTH_MASK = ~TYPE_MASK;

  /** Bytes a record of {@code payload} bytes takes. */
  static long recordSize(long payload) {
    return 8 + ((payload + 7) & ~7L);
  }

  /** The segment's size for {@code rings} rings of {@code capacity} bytes. */
  static long segmentSize(int rings, long capacity) {
    return DATA + rings * capacity;
  }

  /**
   * The ring capacity for a requested size: rounded up to a power of two within [{@link
   * #MIN_CAPACITY}, {@link #MAX_CAPACITY}].
   *
   * @throws IllegalArgumentException if the request is not positive or above the maximum
   */
  static long capacityFor(long requested) {
    if (requested <= 0 || requested > MAX_CAPACITY) {
      throw new IllegalArgumentException(
          "shared memory capacity must be in 1.." + MAX_CAPACITY + " bytes: " + requested);
    }
    long c = Math.max(MIN_CAPACITY, requested);
    return Long.bitCount(c) == 1 ? c : Long.highestOneBit(c) << 1;
  }
}
