package io.jpipe.internal.shm;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Memory;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One attachment to a pipe's shared segment: an open file description of the {@code memfd} of its
 * own (what children inherit, and reopen for themselves), its mapping, and its <em>slot</em>, which
 * says to every other process whether this attachment is still alive.
 *
 * <p>A slot is a byte of the memfd locked with an open-file-description lock ({@code F_OFD_SETLK})
 * on the attachment's own description: the one {@code memfd_create} made for the creator, or the
 * memfd reopened through {@code /proc/self/fd} (close-on-exec) for any other attachment. The kernel
 * drops that lock when the description closes, which a process's death does too, however it dies. A
 * lock word in the segment holds its holder's token: slot number and the slot's generation, bumped
 * at each claim. The holder of a token is dead when the slot's generation moved on or nobody holds
 * the slot's byte ({@code F_OFD_GETLK}): no pid is involved, so pid reuse cannot make a dead holder
 * look alive.
 *
 * <p>The creator seals the memfd against shrinking ({@code F_SEAL_SHRINK}); an attachment refuses a
 * memfd without that seal, or smaller than its header claims, and reads the header once: no process
 * that holds the segment can make a mapped byte fault ({@code SIGBUS}) or change how large another
 * process believes the rings are.
 *
 * <p>An attachment costs one descriptor and one mapping.
 */
final class ShmSegment {
  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

  /** Slots are locked at this file offset and up, far past the segment's bytes. */
  private static final long SLOT_LOCK_BASE = 1L << 40;

  private final FdChannel fd;
  private final MemorySegment map;
  private final int rings;
  private final long capacity;
  private final int token;

  /**
   * The ring count and capacity are those checked before mapping, never read again from the header,
   * which any process holding the segment can rewrite at any time.
   */
  private ShmSegment(FdChannel fd, MemorySegment map, int rings, long capacity, int token) {
    this.fd = fd;
    this.map = map;
    this.rings = rings;
    this.capacity = capacity;
    this.token = token;
  }

  /**
   * Creates a new segment for {@code rings} rings of {@code capacity} bytes (already rounded).
   *
   * @return the creator's attachment
   */
  static ShmSegment create(int rings, long capacity) throws IOException {
    Scratch s = Scratch.get();
    int memfd;
    try (Arena arena = Arena.ofConfined()) {
      memfd =
          Libc.memfdCreate(
              s.errno,
              arena.allocateFrom("jpipe-shm-pipe"),
              Linux.MFD_CLOEXEC | Linux.MFD_ALLOW_SEALING);
    }
    if (memfd < 0) {
      throw Errno.exception("memfd_create", Native.errno(s.errno));
    }
    FdChannel ch = new FdChannel(memfd, FdChannel.Kind.OTHER);
    try {
      long size = ShmLayout.segmentSize(rings, capacity);
      if (Libc.ftruncate(s.errno, memfd, size) != 0) {
        throw Errno.exception("ftruncate", Native.errno(s.errno));
      }
      // never smaller: a process that holds it cannot make another's accesses fault (SIGBUS)
      if (Libc.fcntl(s.errno, memfd, Linux.F_ADD_SEALS, Linux.F_SEAL_SHRINK | Linux.F_SEAL_SEAL)
          != 0) {
        throw Errno.exception("fcntl F_ADD_SEALS", Native.errno(s.errno));
      }
      MemorySegment map = Memory.mapShared(s.errno, memfd, size);
      map.set(ValueLayout.JAVA_INT, ShmLayout.HDR_VERSION, ShmLayout.VERSION);
      map.set(ValueLayout.JAVA_INT, ShmLayout.HDR_RINGS, rings);
      map.set(ValueLayout.JAVA_LONG, ShmLayout.HDR_CAPACITY, capacity);
      map.set(ValueLayout.JAVA_INT, ShmLayout.HDR_MAGIC, ShmLayout.MAGIC);
      return claim(ch, map, rings, capacity);
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(ch);
      throw e;
    }
  }

  /**
   * Attaches to the segment of {@code fd} through a description of its own.
   *
   * @param fd a descriptor of the segment (not changed)
   * @return the attachment
   */
  static ShmSegment attach(int fd) throws IOException {
    Scratch s = Scratch.get();
    int own;
    try (Arena arena = Arena.ofConfined()) {
      own =
          Libc.open(
              s.errno,
              arena.allocateFrom("/proc/self/fd/" + fd),
              Linux.O_RDWR | Linux.O_CLOEXEC,
              0);
    }
    if (own < 0) {
      throw Errno.exception("open /proc/self/fd/" + fd, Native.errno(s.errno));
    }
    FdChannel ch = new FdChannel(own, FdChannel.Kind.OTHER);
    try {
      // the header is only a claim: a byte of a mapping beyond the file's end would fault
      // (SIGBUS), so the file must be as large as claimed, and sealed against shrinking
      int seals = Libc.fcntl(s.errno, own, Linux.F_GET_SEALS, 0);
      if (seals < 0 || (seals & Linux.F_SEAL_SHRINK) == 0) {
        throw new InvalidObjectException("shared-memory pipe segment not sealed against shrinking");
      }
      long real = java.nio.file.Files.size(java.nio.file.Path.of("/proc/self/fd/" + own));
      if (real < ShmLayout.DATA) {
        throw new InvalidObjectException("not a jpipe shared-memory pipe segment");
      }
      MemorySegment head = Memory.mapShared(s.errno, own, ShmLayout.DATA);
      int rings;
      long capacity;
      try {
        if (head.get(ValueLayout.JAVA_INT, ShmLayout.HDR_MAGIC) != ShmLayout.MAGIC
            || head.get(ValueLayout.JAVA_INT, ShmLayout.HDR_VERSION) != ShmLayout.VERSION) {
          throw new InvalidObjectException("not a jpipe shared-memory pipe segment");
        }
        rings = head.get(ValueLayout.JAVA_INT, ShmLayout.HDR_RINGS);
        capacity = head.get(ValueLayout.JAVA_LONG, ShmLayout.HDR_CAPACITY);
      } finally {
        Memory.unmap(head);
      }
      if ((rings != 1 && rings != 2)
          || capacity < ShmLayout.MIN_CAPACITY
          || capacity > ShmLayout.MAX_CAPACITY
          || Long.bitCount(capacity) != 1) {
        throw new InvalidObjectException("corrupt shared-memory pipe header");
      }
      long size = ShmLayout.segmentSize(rings, capacity);
      if (real < size) {
        throw new InvalidObjectException(
            "corrupt shared-memory pipe header: it claims "
                + size
                + " bytes, the segment has "
                + real);
      }
      return claim(ch, Memory.mapShared(s.errno, own, size), rings, capacity);
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(ch);
      throw e;
    }
  }

  /** Takes a free slot on the attachment's own description. */
  private static ShmSegment claim(FdChannel ch, MemorySegment map, int rings, long capacity)
      throws IOException {
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fl = arena.allocate(Linux.FLOCK_SIZE, 8);
      int n = ShmLayout.MAX_SLOTS - 1;
      int start = (int) (ProcessHandle.current().pid() % n);
      for (int k = 0; k < n; k++) {
        int slot = 1 + (start + k) % n;
        setLock(fl, Linux.F_WRLCK, slot);
        if (Libc.fcntlLock(s.errno, ch.fd(), Linux.F_OFD_SETLK, fl) == 0) {
          long at = ShmLayout.SLOT_GENERATIONS + 4L * slot;
          int gen = ((int) INT.getAndAdd(map, at, 1) + 1) & RingLock.GEN_MASK;
          return new ShmSegment(ch, map, rings, capacity, RingLock.token(slot, gen));
        }
        int err = Native.errno(s.errno);
        if (err != Linux.EAGAIN && err != Linux.EACCES) {
          throw Errno.exception("fcntl F_OFD_SETLK", err);
        }
      }
      throw new IOException("every one of " + n + " attachment slots of the segment is in use");
    } catch (IOException | RuntimeException e) {
      Memory.unmap(map);
      throw e;
    }
  }

  private static void setLock(MemorySegment fl, short type, int slot) {
    fl.fill((byte) 0);
    fl.set(ValueLayout.JAVA_SHORT, Linux.FLOCK_TYPE, type);
    fl.set(ValueLayout.JAVA_SHORT, Linux.FLOCK_WHENCE, (short) 0); // SEEK_SET
    fl.set(ValueLayout.JAVA_LONG, Linux.FLOCK_START, SLOT_LOCK_BASE + slot);
    fl.set(ValueLayout.JAVA_LONG, Linux.FLOCK_LEN, 1L);
  }

  /**
   * Whether the attachment that holds {@code token} may still be alive: false once its slot was
   * claimed again or its lock is gone (its process died, or it closed).
   */
  boolean alive(int token) {
    int slot = RingLock.slot(token);
    if (slot <= 0 || slot >= ShmLayout.MAX_SLOTS) {
      return false; // not a token: a corrupt word counts as dead, so it can be taken over
    }
    if (token == this.token) {
      return true;
    }
    int gen = (int) INT.getVolatile(map, ShmLayout.SLOT_GENERATIONS + 4L * slot);
    if ((gen & RingLock.GEN_MASK) != RingLock.generation(token)) {
      return false;
    }
    Scratch s = Scratch.get();
    MemorySegment fl = s.small;
    setLock(fl.asSlice(0, Linux.FLOCK_SIZE), Linux.F_WRLCK, slot);
    if (Libc.fcntlLock(s.errno, fd.fd(), Linux.F_OFD_GETLK, fl) != 0) {
      return true; // cannot tell: assume alive, and look again later
    }
    return fl.get(ValueLayout.JAVA_SHORT, Linux.FLOCK_TYPE) != Linux.F_UNLCK;
  }

  /** This attachment's token for lock words. */
  int token() {
    return token;
  }

  MemorySegment map() {
    return map;
  }

  int rings() {
    return rings;
  }

  long capacity() {
    return capacity;
  }

  /** This attachment's descriptor of the segment, which a child inherits. */
  FdChannel memfd() {
    return fd;
  }

  /**
   * Ends this attachment: unmaps, and closes its description, which drops the slot (at once, or
   * when a child's start that holds the descriptor is done). Only once no thread uses the mapping.
   */
  void close() {
    Memory.unmap(map);
    Fds.closeQuietly(fd);
  }
}
