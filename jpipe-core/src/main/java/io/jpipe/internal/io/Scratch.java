package io.jpipe.internal.io;

import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native memory each thread reuses for its system calls: the errno capture segment, a small struct
 * area (pollfds, iovecs, a msghdr, a frame header) and a bounce buffer for copying heap data where
 * the kernel needs a native address.
 *
 * <p>Only accessed by its own thread. Freed with the thread (an automatic arena).
 */
public final class Scratch {
  /** Frames up to this many payload bytes are sent from one copied buffer (CPython: 16384). */
  public static final int SMALL_FRAME = 16384;

  /** Size of the bounce buffer: a frame header plus {@link #SMALL_FRAME}, rounded up. */
  static final int BOUNCE_SIZE = 64 * 1024;

  private static final ThreadLocal<Scratch> CURRENT = ThreadLocal.withInitial(Scratch::new);

  private final Arena arena = Arena.ofAuto();

  /** errno of the last capturing call. */
  public final MemorySegment errno = Native.newErrnoSegment(arena);

  /** Two {@code struct pollfd}. */
  public final MemorySegment pollfds = arena.allocate(Linux.POLLFD, 2);

  /** A two-entry poll set over {@link #pollfds}: a descriptor and its wake descriptor. */
  public final PollSet polls = new PollSet(pollfds);

  /** Three {@code struct iovec}. */
  public final MemorySegment iovecs = arena.allocate(Linux.IOVEC, 3);

  /** One {@code struct msghdr}. */
  public final MemorySegment msghdr = arena.allocate(Linux.MSGHDR);

  /** 16 bytes for a frame header or an eventfd counter. */
  public final MemorySegment word = arena.allocate(16, 8);

  /** The address of {@link #word}, for calls that take raw addresses. */
  public final long wordAddress = word.address();

  /** 64 bytes for small structs: a pipe's two fds, a {@code struct timespec}, a socklen_t. */
  public final MemorySegment small = arena.allocate(64, 8);

  private MemorySegment bounce;

  /** The thread's interrupt eventfd ({@link #interruptFd}), closed when the scratch is dropped. */
  private int[] interruptFd;

  private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();

  private Scratch() {}

  /**
   * An eventfd of this (platform) thread's own, which {@link Waits} makes readable on interrupt;
   * created on first use and closed after the thread is gone.
   *
   * @return the descriptor
   * @throws java.io.IOException if it cannot be created
   */
  public int interruptFd() throws java.io.IOException {
    if (interruptFd == null) {
      int fd = Libc.eventfd(errno, 0, Linux.EFD_CLOEXEC | Linux.EFD_NONBLOCK);
      if (fd < 0) {
        throw io.jpipe.internal.posix.Errno.exception("eventfd", Native.errno(errno));
      }
      int[] holder = {fd};
      interruptFd = holder;
      CLEANER.register(this, () -> Libc.close(Native.newErrnoSegment(Arena.ofAuto()), holder[0]));
    }
    return interruptFd[0];
  }

  /**
   * The calling thread's scratch.
   *
   * @return the scratch of the current thread
   */
  public static Scratch get() {
    return CURRENT.get();
  }

  /**
   * The thread's bounce buffer, with room for at least {@code min(need, BOUNCE_SIZE)} bytes. A
   * platform thread gets {@link #BOUNCE_SIZE} bytes at once; a virtual thread (there may be
   * thousands, each with its own scratch) gets what it needs, rounded up to a power of two, and a
   * bigger one only when a bigger message comes.
   *
   * @param need the bytes wanted
   * @return the buffer, at least {@code min(need, BOUNCE_SIZE)} bytes long
   */
  public MemorySegment bounce(long need) {
    MemorySegment b = bounce;
    long want = Math.min(need, BOUNCE_SIZE);
    if (b == null || b.byteSize() < want) {
      long size =
          Thread.currentThread().isVirtual()
              ? Math.max(256, Long.highestOneBit(Math.max(1, want - 1)) << 1)
              : BOUNCE_SIZE;
      b = bounce = arena.allocate(Math.min(size, BOUNCE_SIZE), 16);
    }
    return b;
  }
}
