package io.jpipe.internal.shm;

import io.jpipe.BrokenPipeException;
import io.jpipe.ProtocolException;
import io.jpipe.TruncatedMessageException;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.PollSet;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.io.Waits;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;

/**
 * The transport of one end of a shared-memory pipe: a socket of a {@code socketpair} (for the
 * lifetime of the ends, {@code fileno()}, end of file and sleeping) and an attachment to the
 * segment whose rings carry the messages ({@link ShmLayout}).
 *
 * <h2>Protocol</h2>
 *
 * <p>A writer takes the ring's write lock, waits for room (for the record and the 8 bytes after
 * it), copies the payload past the write cursor, clears the header slot after the record, stores
 * the record's header (with release: a reader that sees it sees the bytes), then the write cursor
 * past it, wakes or rings the readers that sleep, and unlocks. A message longer than {@link #PIECE}
 * (or too large for the ring) goes as a {@code FIRST} record (its length) then {@code CHUNK}
 * records of at most {@link #PIECE} bytes, each published as soon as it is written, all under the
 * one write lock, so the reader copies while the writer writes. Copies of some kilobytes go through
 * libc's {@code memcpy} ({@link Ring#NATIVE_COPY_MIN}).
 *
 * <p>A reader takes the ring's read lock, waits for a record at the read cursor (a header slot that
 * is not 0: it spins on the cache line the record is in, as a writer fills it, and loads the write
 * cursor only to sleep), copies the message out, then stores the read cursor past it (waking
 * writers that sleep for room), and unlocks. A {@code CHUNK} found where a message should start
 * belongs to a message whose start another reader consumed before it died: it is skipped. A {@code
 * WHOLE} or {@code FIRST} record found where a {@code CHUNK} should be means the writer of the
 * message being read died in the middle of it: that message is dropped and the receive starts over
 * with the new one ({@link Abandoned}).
 *
 * <h2>A process killed at any instant</h2>
 *
 * <ul>
 *   <li>Writer, before publishing: the bytes past the write cursor are never read; the next writer
 *       (who takes the lock over, {@link RingLock}) overwrites them. Nothing is delivered.
 *   <li>Writer, between the chunks of a large message: the reader in that message finds the next
 *       writer's record instead of a chunk and drops the partial message; with no writer left, it
 *       gets end of file ({@link TruncatedMessageException}) once every copy of the end is closed.
 *   <li>Writer, between storing a record's header and the write cursor: the record is complete, and
 *       readers may take it; the next writer, who takes the lock over, completes its publication
 *       (stores the write cursor past it) before writing its own. Until then a reader may be past
 *       the write cursor, by one record.
 *   <li>Writer, after publishing and before unlocking: the message is delivered; the lock is taken
 *       over.
 *   <li>Reader, before storing the read cursor: the message stays; the next reader (who takes the
 *       lock over) gets it. A message is never delivered twice to live processes: delivery happens
 *       after the store, in the process that stored.
 *   <li>Reader, in the middle of a large message (one sent as chunks): chunks already consumed are
 *       gone, so the message is lost (it was in flight in the killed process); the next reader
 *       skips its other chunks.
 *   <li>Sleeping (on the socket, the futex or a lock): nothing is held but a sleeper count or a
 *       wake request, which only make a writer or reader ring or wake in vain (a wake request, once
 *       only).
 * </ul>
 *
 * <h2>A corrupt segment</h2>
 *
 * <p>Every process that holds an end can write anything into the segment, and a process may be
 * hostile or its memory corrupted. Nothing read from the segment is trusted for memory safety: a
 * ring's capacity and place are fixed at attachment (from a header checked against the segment's
 * real size), every access is masked into the ring, and cursors and record headers are checked once
 * per record against what a correct peer can produce: the write cursor at most the capacity ahead
 * of the read cursor and never behind it (a reader's view: at most the capacity behind it, see the
 * dead writer above), both at multiples of 8, a record no longer than the ring less 8 bytes.
 * Anything else is a {@link ProtocolException} (as a malformed frame on a kernel pipe is): from a
 * receive, which then stops reading the end, and from a send, which then writes nothing. A reader
 * takes a header slot that is not 0 for a record without loading the write cursor, so a corrupt
 * header of a possible type and length delivers the ring's bytes as a message (as a hostile peer
 * could send them), never reads outside the ring. A send whose record fits in the room that the
 * last read cursor it saw left does not load the read cursor again (cursors only grow, so it writes
 * only where the reader has been): a corrupt read cursor is found by the first send that needs more
 * room. A length that a {@code FIRST} record claims is only a claim: memory for it is taken as its
 * chunks arrive, as for a kernel pipe's header. A lock word naming a holder that does not exist is
 * taken over, as a dead holder's is; one naming the waiting end itself is a {@link
 * ProtocolException}. Sleeper counts and wake requests only decide whether to wake or ring, and a
 * sleeper asks again before each sleep and sleeps in slices, so a corrupt count or request costs
 * wake-ups or a slice of latency, never a message. A peer that holds a lock word with its own,
 * live, token and never lets go blocks this end as a peer that never reads or writes would: until
 * the peer closes or dies, or this end is closed or its thread interrupted.
 *
 * <h2>End of file and broken pipes</h2>
 *
 * <p>The kernel counts the copies of each socket: a reader that finds the ring empty and its socket
 * hung up (every copy of the peer end closed, in every process) looks at the ring once more and
 * then reports end of file. A send raises {@link BrokenPipeException} when the peer end is closed
 * everywhere, found by polling the socket: before the first send, when the ring is full, and at
 * least every {@link #HUP_CHECK_NANOS} of sending; a message sent between a peer's close and the
 * next check goes into the ring, unread, as a message sent just before the close would.
 */
public final class ShmEnd {
  /** The longest time between two checks, by a sender, that the peer end still exists. */
  static final long HUP_CHECK_NANOS = 10_000_000L;

  /** A sleeping reader looks at its ring at least this often (lost doorbells are bounded). */
  private static final long READ_SLICE_NANOS = 200_000_000L;

  /** A writer asleep for room looks at the socket and its state at least this often. */
  private static final long WRITE_SLICE_NANOS = 200_000_000L;

  /**
   * A message longer than this goes as chunks of at most this many bytes, each published as soon as
   * it is written, so that the reader copies one chunk out while the writer copies the next in: the
   * two copies overlap, and the bytes cross between the cores' caches while still in them (a ring
   * published whole, a megabyte at a time, moves a quarter as many bytes per second).
   */
  static final long PIECE = 64 << 10;

  /**
   * A writer waiting for room spins at least this long without seeing the reader move before it
   * sleeps (unless on one CPU): a reader copying a chunk out moves its cursor only when done, and a
   * writer asleep costs a wake-up of 100-500 µs on a virtual machine, ten times its chunk.
   */
  static final long ROOM_MIN_SPIN_NANOS = 20_000;

  private final FdChannel ch;
  private final ShmSegment seg;
  private final int side;

  /** The ring this end reads, or null. */
  private final Ring in;

  /** The ring this end writes, or null. */
  private final Ring out;

  // read state, guarded by the connection's read lock
  private boolean reading;
  private boolean streamed;
  private long recordPos;
  private long msgLength;
  private long done;
  private long chunkLeft;
  private long chunkData;
  private long chunkEnd;

  // adaptive spin windows and the last peer check: hints, raced harmlessly
  private final ShmWait.Window readSpin = new ShmWait.Window();
  private final ShmWait.Window writeSpin = new ShmWait.Window();
  private long lastHupCheck = System.nanoTime() - 2 * HUP_CHECK_NANOS;

  /**
   * Whether a publish or consume of this end woke or rang a sleeping peer since the last wait,
   * whose answer then comes only after its wake-up ({@link ShmWait.Window#nanos}); a hint, taken by
   * the next wait.
   */
  private boolean wokePeer;

  /**
   * The read cursor of the ring this end writes, as last seen by a writer of this process: never
   * ahead of the true one (cursors only grow), so a record that fits below {@code roomSeen +
   * capacity} fits in the ring without loading the read cursor, whose cache line the reader then
   * keeps to itself. Guarded by the connection's write lock.
   */
  private long roomSeen;

  /** Makes the next send load the read cursor, as after more than a ring of sending (for tests). */
  void forgetRoomSeen() {
    roomSeen = out.writeCursor() - (1L << 62);
  }

  private ShmEnd(FdChannel ch, ShmSegment seg, int side, boolean readable, boolean writable)
      throws IOException {
    this.ch = ch;
    this.seg = seg;
    this.side = side;
    long cap = seg.capacity();
    int rings = seg.rings();
    this.in = readable ? new Ring(seg.map(), side, cap) : null;
    int outIndex = 1 - side;
    if (writable && outIndex >= rings) {
      throw new java.io.InvalidObjectException("no ring for this end to write");
    }
    this.out = writable ? new Ring(seg.map(), outIndex, cap) : null;
    if (!ch.addAfterClose(seg::close)) {
      seg.close();
      throw new java.nio.channels.ClosedChannelException();
    }
  }

  /**
   * Opens both ends of a new shared-memory pipe.
   *
   * @param duplex whether both ends send and receive (else end 0 receives, end 1 sends)
   * @param capacity the requested bytes per ring
   * @return end 0 and end 1
   * @throws IOException if the kernel refuses (descriptors, memory)
   */
  public static ShmEnd[] openPair(boolean duplex, long capacity) throws IOException {
    long cap = ShmLayout.capacityFor(capacity);
    int[] socks = Fds.socketpair();
    FdChannel c0 = new FdChannel(socks[0], FdChannel.Kind.SOCKET);
    FdChannel c1 = new FdChannel(socks[1], FdChannel.Kind.SOCKET);
    try {
      ShmSegment s0 = ShmSegment.create(duplex ? 2 : 1, cap);
      ShmEnd e0 = new ShmEnd(c0, s0, 0, true, duplex);
      ShmSegment s1 = ShmSegment.attach(s0.memfd().fd());
      ShmEnd e1 = new ShmEnd(c1, s1, 1, duplex, true);
      return new ShmEnd[] {e0, e1};
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(c0);
      Fds.closeQuietly(c1);
      throw e;
    }
  }

  /**
   * Rebuilds an end from inherited descriptors (in a child), taking both over: the socket becomes
   * the end's, the segment's descriptor is reopened as a description of the end's own and closed.
   *
   * @param socketFd the end's socket
   * @param memfd the segment
   * @param side 0 or 1
   * @param readable whether the end receives
   * @param writable whether the end sends
   * @return the end
   * @throws IOException if the segment cannot be mapped or is not a pipe's
   */
  public static ShmEnd attach(int socketFd, int memfd, int side, boolean readable, boolean writable)
      throws IOException {
    FdChannel c = new FdChannel(socketFd, FdChannel.Kind.SOCKET);
    try {
      ShmSegment seg;
      try {
        if (side != 0 && side != 1) {
          throw new java.io.InvalidObjectException("bad side " + side);
        }
        seg = ShmSegment.attach(memfd);
      } finally {
        Fds.closeQuietly(memfd); // inherited: the attachment has a description of its own
      }
      return new ShmEnd(c, seg, side, readable, writable);
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(c);
      throw e;
    }
  }

  /**
   * The socket: the connection's channel.
   *
   * @return the channel
   */
  public FdChannel channel() {
    return ch;
  }

  /**
   * The segment's descriptor, for a child to inherit.
   *
   * @return the memfd's channel
   */
  public FdChannel memfd() {
    return seg.memfd();
  }

  /**
   * Which end this is: 0 ({@code conn1}) or 1.
   *
   * @return the side
   */
  public int side() {
    return side;
  }

  /**
   * The bytes per ring.
   *
   * @return the capacity
   */
  public long capacity() {
    return seg.capacity();
  }

  ShmSegment segment() {
    return seg;
  }

  /**
   * Closes the end in this process: marks the socket closed, wakes this process's writers asleep
   * for room, and leaves the unmapping to the last thread that uses the end.
   */
  public void close() {
    if (ch.tryAcquire()) {
      try {
        Fds.closeQuietly(ch);
        if (out != null) {
          ShmWait.futexWake(out.readCursorAddress); // our writers waiting for room
          ShmWait.futexWake(out.writeCursorAddress); // readers of our ring: look for the hang-up
        }
        if (in != null) {
          ShmWait.futexWake(in.writeCursorAddress); // our readers
        }
      } finally {
        ch.release();
      }
    } else {
      Fds.closeQuietly(ch);
    }
  }

  /** Throws if the end was closed or the thread interrupted while waiting. */
  void checkWaiting() throws IOException {
    if (Thread.currentThread().isInterrupted()) {
      close();
      throw new ClosedByInterruptException();
    }
    if (ch.isClosed()) {
      throw new AsynchronousCloseException();
    }
  }

  // ---------------------------------------------------------------- writing

  /**
   * Sends {@code n} bytes of {@code src} from {@code off} as one message. The caller holds the
   * connection's write lock and a use count of the channel.
   *
   * @param s the thread's scratch
   * @param src the bytes
   * @param off where they start
   * @param n how many
   * @throws ProtocolException if the ring's cursors are corrupt (nothing is written)
   * @throws IOException if the peer is gone, or the end closed or the thread interrupted meanwhile
   */
  public void write(Scratch s, byte[] src, int off, int n) throws IOException {
    write(s, src, null, off, n);
  }

  /**
   * Sends the segment's bytes as one message (any length); as {@link #write(Scratch, byte[], int,
   * int)}.
   *
   * @param s the thread's scratch
   * @param src the bytes
   * @throws IOException as the other form
   */
  public void write(Scratch s, MemorySegment src) throws IOException {
    write(s, null, src, 0, src.byteSize());
  }

  private void write(Scratch s, byte[] arr, MemorySegment seg, long off, long n)
      throws IOException {
    Ring r = out;
    long now = System.nanoTime();
    if (now - lastHupCheck >= HUP_CHECK_NANOS) {
      lastHupCheck = now;
      checkPeer(s);
    }
    boolean tookOver = r.writeLock.lock(this) == RingLock.OWNER_DIED;
    try {
      if (tookOver) {
        completeDeadWriters(s, r);
      }
      long w = r.writeCursor();
      long cap = r.capacity;
      long rec = ShmLayout.recordSize(n);
      if (rec + 8 <= cap && n <= PIECE) {
        long target = w + rec + 8 - cap; // the record, and the next header slot to clear
        if (roomSeen - target < 0 || w - roomSeen < 0 || (w & 7) != 0) {
          roomSeen = awaitRoom(s, r, w, target); // checks the cursors
        }
        copyIn(r, w + 8, arr, seg, off, n);
        r.clearHeader(w + rec);
        r.putHeader(w, ShmLayout.TYPE_WHOLE | n);
        publish(s, r, w + rec);
        return;
      }
      awaitRoom(s, r, w, w + 16 - cap);
      r.clearHeader(w + 8);
      r.putHeader(w, ShmLayout.TYPE_FIRST | n);
      w += 8;
      publish(s, r, w);
      long sent = 0;
      long half = cap >> 1;
      while (sent < n) {
        long left = n - sent;
        long want = Math.min(left, PIECE);
        long rc = awaitRoom(s, r, w, w + Math.min(ShmLayout.recordSize(want) + 8, half) - cap);
        long free = cap - (w - rc);
        long chunk = Math.min(want, free - 16);
        copyIn(r, w + 8, arr, seg, off + sent, chunk);
        long next = w + ShmLayout.recordSize(chunk);
        r.clearHeader(next);
        r.putHeader(w, ShmLayout.TYPE_CHUNK | chunk);
        w = next;
        publish(s, r, w);
        sent += chunk;
      }
    } finally {
      r.writeLock.unlock();
    }
  }

  /**
   * After taking the write lock over from a dead holder: a record whose header it stored but whose
   * write cursor it did not (it died between the two) is complete, and readers may have taken it
   * already; its publication is completed, so that the next record goes after it.
   */
  private void completeDeadWriters(Scratch s, Ring r) throws IOException {
    long w = r.writeCursor();
    long h = r.header(w);
    if (h == 0) {
      return;
    }
    long type = h & ShmLayout.TYPE_MASK;
    long len = h & ShmLayout.LENGTH_MASK;
    long size = type == ShmLayout.TYPE_FIRST ? 8 : ShmLayout.recordSize(len);
    if ((w & 7) != 0 || size + 8 > r.capacity || (type == ShmLayout.TYPE_FIRST && len == 0)) {
      throw corrupt(r, "record header 0x" + Long.toHexString(h) + " at the write cursor " + w);
    }
    publish(s, r, w + size);
  }

  private static void copyIn(Ring r, long pos, byte[] arr, MemorySegment seg, long off, long n) {
    if (arr != null) {
      r.copyIn(pos, arr, (int) off, (int) n);
    } else {
      r.copyIn(pos, seg, off, n);
    }
  }

  private void publish(Scratch s, Ring r, long w) throws IOException {
    r.publish(w);
    if (r.takeReadWake()) {
      ShmWait.futexWake(r.writeCursorAddress);
      wokePeer = true;
    }
    if (r.readSleepers() != 0) {
      ch.writeNow(s, s.wordAddress, 1); // the doorbell; a full socket is readable already
      wokePeer = true;
    }
  }

  /**
   * Waits until the read cursor reaches {@code target}; returns the read cursor. Each read cursor
   * seen is checked against the write cursor {@code w} ({@link #checkRoom}).
   *
   * @throws ProtocolException if the segment's cursors are corrupt
   */
  private long awaitRoom(Scratch s, Ring r, long w, long target) throws IOException {
    long rc = checkRoom(r, w, r.readCursor());
    if (rc - target >= 0) {
      return rc;
    }
    // a virtual thread never spins through a wake-up: it would hold its carrier for so long
    boolean woken = wokePeer && !Thread.currentThread().isVirtual();
    wokePeer = false;
    long window =
        ShmWait.ONE_CPU
            ? writeSpin.nanos(woken)
            : Math.max(writeSpin.nanos(woken), ROOM_MIN_SPIN_NANOS);
    long start = System.nanoTime();
    long since = start;
    long seen = rc;
    for (int i = 1; ; i++) {
      Thread.onSpinWait();
      rc = checkRoom(r, w, r.readCursor());
      if (rc - target >= 0) {
        writeSpin.spun(woken);
        return rc;
      }
      if ((i & 15) == 0) {
        long now = System.nanoTime();
        if (rc != seen && !ShmWait.ONE_CPU) {
          seen = rc; // a reader is consuming: the room is coming, the window starts again
          since = now;
        } else if (now - since > window) {
          break;
        }
      }
    }
    lastHupCheck = System.nanoTime();
    boolean slept = false;
    try {
      checkPeer(s); // full: is anyone still reading?
      rc = sleepForRoom(s, r, w, target);
      slept = true;
      return rc;
    } finally {
      writeSpin.slept(woken, slept ? System.nanoTime() - start : Long.MAX_VALUE);
    }
  }

  private long sleepForRoom(Scratch s, Ring r, long w, long target) throws IOException {
    boolean virtual = Thread.currentThread().isVirtual();
    long backoff = 10_000;
    try {
      for (; ; ) {
        if (!virtual) {
          r.armRoomWake(target);
        }
        long rc = checkRoom(r, w, r.readCursor());
        if (rc - target >= 0) {
          return rc;
        }
        checkWaiting();
        if (virtual) {
          ShmWait.park(backoff);
          backoff = Math.min(2 * backoff, 20_000_000);
        } else {
          Waits.InterruptWake hook = new Waits.InterruptWake(this::close);
          hook.enter();
          try {
            ShmWait.await(r.readCursorAddress, (int) rc, WRITE_SLICE_NANOS);
          } finally {
            hook.leave();
          }
        }
        checkWaiting();
        long now = System.nanoTime();
        if (now - lastHupCheck >= HUP_CHECK_NANOS) {
          lastHupCheck = now;
          checkPeer(s);
        }
      }
    } finally {
      if (!virtual) {
        r.disarmRoomWake();
      }
    }
  }

  /**
   * Returns the read cursor {@code rc} if it is possible against the write cursor {@code w} that a
   * writer holding the lock sees: never ahead of it, never more than the capacity behind it, both
   * at multiples of 8. Anything else was written into the segment by someone else (a hostile or
   * crash-corrupted peer): the ring cannot be trusted, and no byte of it is written.
   */
  private static long checkRoom(Ring r, long w, long rc) throws ProtocolException {
    long used = w - rc;
    if (used < 0 || used > r.capacity || ((w | rc) & 7) != 0) {
      throw corrupt(r, "write cursor " + w + ", read cursor " + rc);
    }
    return rc;
  }

  /**
   * The write cursor, as a reader holding the lock at read cursor {@code pos} may see it: at most
   * the capacity ahead of it, and at most the capacity behind (a writer that died between storing a
   * record's header and its write cursor leaves the cursor behind the record, which a reader may
   * have taken already, until the next writer completes the publication), both at multiples of 8.
   * Anything else was written by someone else (see {@link #checkRoom}).
   */
  private static long checkedWriteCursor(Ring r, long pos) throws ProtocolException {
    long w = r.writeCursor();
    long d = w - pos;
    if (d > r.capacity || d < -r.capacity || ((w | pos) & 7) != 0) {
      throw corrupt(r, "write cursor " + w + ", read cursor " + pos);
    }
    return w;
  }

  /**
   * The read cursor, which a reader holding the lock finds at a multiple of 8 (a record's start).
   */
  private static long checkedReadCursor(Ring r) throws ProtocolException {
    long pos = r.readCursor();
    if ((pos & 7) != 0) {
      throw corrupt(r, "read cursor " + pos);
    }
    return pos;
  }

  /**
   * Whether a record is at {@code pos}: its header slot is not 0. A misaligned {@code pos} (a
   * corrupt read cursor) counts as one, for the receive to report.
   */
  private static boolean present(Ring r, long pos) {
    return (pos & 7) != 0 || r.header(pos) != 0;
  }

  /**
   * Whether a reader at {@code pos} has something to take: a record there, or a write cursor past
   * it with none there, which {@link #beginRead} reports as a corrupt ring.
   */
  private static boolean arrived(Ring r, long pos) throws ProtocolException {
    return present(r, pos) || checkedWriteCursor(r, pos) - pos > 0;
  }

  private static ProtocolException corrupt(Ring r, String what) {
    return new ProtocolException(
        "corrupt shared-memory ring (capacity " + r.capacity + "): " + what);
  }

  /** Throws {@link BrokenPipeException} if every copy of the peer end is closed. */
  private void checkPeer(Scratch s) throws IOException {
    if ((pollNow(s, (short) 0) & Linux.POLLHUP) != 0) {
      throw new BrokenPipeException("Broken pipe: the peer end is closed in every process");
    }
  }

  private short pollNow(Scratch s, short events) throws IOException {
    PollSet p = s.polls;
    p.clear();
    p.add(ch.fd(), events);
    p.pollNow(s);
    return p.revents(0);
  }

  // ---------------------------------------------------------------- reading

  /**
   * Begins a receive: waits for a message and takes the ring's read lock. The caller holds the
   * connection's read lock and a use count, and calls {@link #endRead} in any case.
   *
   * @param s the thread's scratch
   * @return the message's length, or -1 at end of file (then nothing is held)
   * @throws ProtocolException if the ring's cursors or the record at the read cursor are corrupt
   * @throws IOException if the end is closed or the thread interrupted while waiting
   */
  public long beginRead(Scratch s) throws IOException {
    Ring r = in;
    r.readLock.lock(this);
    boolean ok = false;
    try {
      for (; ; ) {
        long pos = checkedReadCursor(r);
        if (awaitData(s, r, pos, FdChannel.NO_DEADLINE) < 0) {
          return -1;
        }
        long h = r.header(pos);
        long type = h & ShmLayout.TYPE_MASK;
        long len = h & ShmLayout.LENGTH_MASK;
        long max = r.capacity - 8; // the largest record with the header slot after it
        if (type == ShmLayout.TYPE_WHOLE && ShmLayout.recordSize(len) <= max) {
          reading = true;
          streamed = false;
          recordPos = pos;
          msgLength = len;
          done = 0;
          ok = true;
          return len;
        }
        if (type == ShmLayout.TYPE_FIRST && len > 0) {
          consume(r, pos + 8);
          reading = true;
          streamed = true;
          msgLength = len;
          done = 0;
          chunkLeft = 0;
          ok = true;
          return len;
        }
        if (type == ShmLayout.TYPE_CHUNK && len > 0 && ShmLayout.recordSize(len) <= max) {
          consume(r, pos + ShmLayout.recordSize(len)); // of a message a dead reader began
          continue;
        }
        throw corrupt(
            r,
            "record header 0x"
                + Long.toHexString(h)
                + " at "
                + pos
                + ", write cursor "
                + r.writeCursor());
      }
    } finally {
      if (!ok) {
        r.readLock.unlock();
      }
    }
  }

  /**
   * Ends a receive begun by {@link #beginRead} (idempotent): a message read to its end is consumed;
   * one not read to its end stays for the next receive if it was whole, and is dropped if it was
   * streamed (its remaining chunks are skipped).
   *
   * @param s the thread's scratch
   */
  public void endRead(Scratch s) {
    if (!reading) {
      return;
    }
    reading = false;
    Ring r = in;
    if (!streamed && done == msgLength) {
      consume(r, recordPos + ShmLayout.recordSize(msgLength));
    }
    r.readLock.unlock();
  }

  /**
   * Copies the next {@code n} bytes of the message being received.
   *
   * @param s the thread's scratch
   * @param arr the destination array, or null
   * @param seg the destination segment when {@code arr} is null
   * @param off where in the destination
   * @param n how many bytes
   * @throws Abandoned if the message's writer died before its end (receive again)
   * @throws TruncatedMessageException if the peer end closed before its end
   * @throws ProtocolException if the ring's cursors or a chunk's header are corrupt
   * @throws IOException if the end is closed or the thread interrupted while waiting
   */
  public void readBody(Scratch s, byte[] arr, MemorySegment seg, long off, long n)
      throws IOException {
    Ring r = in;
    if (!streamed) {
      long from = recordPos + 8 + done;
      if (arr != null) {
        r.copyOut(from, arr, (int) off, (int) n);
      } else {
        r.copyOut(from, seg, off, n);
      }
      done += n;
      return;
    }
    while (n > 0) {
      if (chunkLeft == 0) {
        long pos = checkedReadCursor(r);
        if (awaitData(s, r, pos, FdChannel.NO_DEADLINE) < 0) {
          throw new TruncatedMessageException(msgLength, done, "body");
        }
        long h = r.header(pos);
        long len = h & ShmLayout.LENGTH_MASK;
        if ((h & ShmLayout.TYPE_MASK) != ShmLayout.TYPE_CHUNK
            || len == 0
            || len > msgLength - done) {
          throw new Abandoned();
        }
        if (ShmLayout.recordSize(len) > r.capacity - 8) {
          throw corrupt(r, "chunk of " + len + " bytes at " + pos);
        }
        chunkLeft = len;
        chunkData = pos + 8;
        chunkEnd = pos + ShmLayout.recordSize(len);
      }
      long k = Math.min(n, chunkLeft);
      if (arr != null) {
        r.copyOut(chunkData, arr, (int) off, (int) k);
      } else {
        r.copyOut(chunkData, seg, off, k);
      }
      chunkData += k;
      chunkLeft -= k;
      off += k;
      n -= k;
      done += k;
      if (chunkLeft == 0) {
        consume(r, chunkEnd);
      }
    }
  }

  private void consume(Ring r, long pos) {
    r.commit(pos);
    if (r.takeRoomWake(pos)) {
      ShmWait.futexWake(r.readCursorAddress);
      wokePeer = true;
    }
  }

  /**
   * Whether a receive would find something now: a record, or end of file. The caller holds a use
   * count.
   *
   * @param s the thread's scratch
   * @return true if so
   * @throws IOException if poll fails
   */
  public boolean readableNow(Scratch s) throws IOException {
    Ring r = in;
    return present(r, r.readCursor()) || (pollNow(s, (short) 0) & Linux.POLLHUP) != 0;
  }

  /**
   * Begins a wait of {@code Connections.waitAny} on this end's socket: from now until {@link
   * #exitWait}, writers ring the doorbell.
   *
   * @return true if a record is there already (then the socket may stay silent)
   */
  public boolean enterWait() {
    if (in == null) {
      return false;
    }
    in.addReadSleeper(1);
    return present(in, in.readCursor());
  }

  /** Ends a wait begun by {@link #enterWait}. */
  public void exitWait() {
    if (in != null) {
      in.addReadSleeper(-1);
    }
  }

  /**
   * After the socket polled readable in a wait: whether a receive would find something (a record,
   * or end of file). If not, the socket held doorbells for records already taken: they are drained.
   * The caller holds a use count.
   *
   * @param s the thread's scratch
   * @return true if a receive would find something
   * @throws IOException if reading the socket fails
   */
  public boolean confirmReadable(Scratch s) throws IOException {
    if (in == null || present(in, in.readCursor())) {
      return true;
    }
    return drain(s) || present(in, in.readCursor());
  }

  /**
   * Waits until a receive would find something (a record or end of file), or the deadline.
   *
   * @param s the thread's scratch
   * @param deadline see {@link FdChannel#await}
   * @return false if the deadline passed first
   * @throws IOException if the end is closed or the thread interrupted while waiting
   */
  public boolean awaitReadable(Scratch s, long deadline) throws IOException {
    Ring r = in;
    return awaitData(s, r, r.readCursor(), deadline) != 0;
  }

  /**
   * Waits until a record is at {@code pos} (its header slot is not 0): spins on that slot, then
   * sleeps (on the write cursor or the socket), looking at the write cursor too.
   *
   * @return 1 when it did (or the write cursor moved past {@code pos} with no record there, for the
   *     caller to report), 0 when the deadline passed, -1 at end of file
   * @throws ProtocolException if the write cursor is corrupt
   */
  private int awaitData(Scratch s, Ring r, long pos, long deadline) throws IOException {
    if (present(r, pos)) {
      return 1;
    }
    // a virtual thread never spins through a wake-up: it would hold its carrier for so long
    boolean woken = wokePeer && !Thread.currentThread().isVirtual();
    wokePeer = false;
    // in the middle of a streamed message the writer is writing the next chunk: worth a full spin
    long window =
        reading && streamed && !ShmWait.ONE_CPU ? ShmWait.MAX_SPIN_NANOS : readSpin.nanos(woken);
    long start = System.nanoTime();
    for (int i = 1; ; i++) {
      Thread.onSpinWait();
      if (present(r, pos)) {
        readSpin.spun(woken);
        return 1;
      }
      if ((i & 15) == 0 && System.nanoTime() - start > window) {
        break;
      }
    }
    int got = 0;
    try {
      got =
          Thread.currentThread().isVirtual()
              ? sleepOnSocket(s, r, pos, deadline)
              : sleepOnCursor(s, r, pos, deadline);
      return got;
    } finally {
      readSpin.slept(woken, got == 1 ? System.nanoTime() - start : Long.MAX_VALUE);
    }
  }

  /** A virtual thread's sleep for data: on the socket, which writers ring while it is counted. */
  private int sleepOnSocket(Scratch s, Ring r, long pos, long deadline) throws IOException {
    r.addReadSleeper(1);
    try {
      for (; ; ) {
        if (arrived(r, pos)) {
          return 1;
        }
        long slice = FdChannel.deadlineAfter(READ_SLICE_NANOS);
        long until = deadline == FdChannel.NO_DEADLINE || slice - deadline < 0 ? slice : deadline;
        boolean ready = ch.await(s, Linux.POLLIN, until);
        if (arrived(r, pos)) {
          return 1;
        }
        if (ready) {
          if (drain(s)) {
            return arrived(r, pos) ? 1 : -1; // hung up: the ring once more, then EOF
          }
        } else if (FdChannel.passed(deadline)) {
          return 0;
        }
      }
    } finally {
      r.addReadSleeper(-1);
    }
  }

  /**
   * A platform thread's sleep for data: on the write cursor's futex (stored after every header), in
   * slices, after each of which (and after each wake-up that brought nothing) it asks the socket
   * whether the peer hung up. A peer that closes wakes its readers; one killed by a signal cannot,
   * so end of file is then seen within a slice.
   */
  private int sleepOnCursor(Scratch s, Ring r, long pos, long deadline) throws IOException {
    for (; ; ) {
      r.armReadWake();
      if (present(r, pos)) {
        return 1;
      }
      long w = checkedWriteCursor(r, pos);
      if (w - pos > 0) {
        return 1;
      }
      checkWaiting();
      long slice = READ_SLICE_NANOS;
      if (deadline != FdChannel.NO_DEADLINE) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return 0;
        }
        slice = Math.min(slice, left);
      }
      Waits.InterruptWake hook = new Waits.InterruptWake(this::close);
      hook.enter();
      try {
        ShmWait.await(r.writeCursorAddress, (int) w, slice);
      } finally {
        hook.leave();
      }
      checkWaiting();
      if (arrived(r, pos)) {
        return 1;
      }
      if ((pollNow(s, (short) 0) & Linux.POLLHUP) != 0) {
        return arrived(r, pos) ? 1 : -1; // hung up: the ring once more, then EOF
      }
    }
  }

  /**
   * Reads the doorbells off the socket; true if it is at end of file. A peer that closed with
   * doorbells unread in its own socket makes ours report {@code ECONNRESET}: end of file too, since
   * doorbells are not data.
   */
  private boolean drain(Scratch s) throws IOException {
    long buf = s.bounce(64).address();
    int fd = ch.fd();
    for (; ; ) {
      long got = Libc.recvRaw(s.errno, fd, buf, 64, Linux.MSG_DONTWAIT);
      if (got == 0) {
        return true;
      }
      if (got < 0) {
        int err = Native.errno(s.errno);
        if (err == Linux.EINTR) {
          continue;
        }
        if (err == Linux.ECONNRESET) {
          return true;
        }
        if (err == Linux.EAGAIN) {
          return false;
        }
        throw Errno.exception("recv", err);
      }
    }
  }

  /**
   * The message being received was abandoned by its writer (its process died in the middle): drop
   * what was read and receive again.
   */
  public static final class Abandoned extends IOException {
    @java.io.Serial private static final long serialVersionUID = 1L;

    Abandoned() {
      super("the writer of the message died before its end");
    }
  }
}
