package io.jpipe.internal.io;

import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.spi.AbstractInterruptibleChannel;
import java.util.concurrent.locks.LockSupport;

/**
 * One open file descriptor (a socket or a pipe end) with non-blocking reads and writes and
 * interruptible waits.
 *
 * <p>No call here blocks in {@code read} or {@code write}: reads and writes are non-blocking per
 * call ({@code MSG_DONTWAIT} on sockets, {@code RWF_NOWAIT} on pipes, or before Linux 6.4 a private
 * non-blocking description of the pipe), so the file's own flags, which every process holding a
 * copy shares, stay as they are (blocking, as CPython leaves them). Waiting is done in {@code poll}
 * on the descriptor plus a wake descriptor, inside {@code begin}/{@code end} of {@link
 * AbstractInterruptibleChannel}: {@link #close} from another thread wakes the waiter with {@link
 * AsynchronousCloseException}, {@link Thread#interrupt} closes the channel and wakes it with {@link
 * java.nio.channels.ClosedByInterruptException}, as for any NIO channel.
 *
 * <p>The descriptor is closed when the channel is closed or garbage-collected (Cleaner), and never
 * while a thread is still using it (see {@link FdState}).
 */
public final class FdChannel extends AbstractInterruptibleChannel {
  /** What kind of file the descriptor is; it decides which system calls are used. */
  public enum Kind {
    /** A stream socket: socketpair, accepted or connected. */
    SOCKET,
    /** A pipe end (pipe2). */
    PIPE,
    /** Anything else that is only polled or owned: a pidfd, a memfd, a listening socket. */
    OTHER
  }

  /** Means "no deadline" wherever a deadline is expected. */
  public static final long NO_DEADLINE = Long.MAX_VALUE;

  /** A deadline already past: poll without waiting. */
  public static final long NOW = Long.MIN_VALUE;

  private static final Cleaner CLEANER = Cleaner.create();

  private final FdState state;
  private final Kind kind;

  /**
   * Whether the last message had to be waited for: then the next receive polls first instead of
   * trying a read that would only say EAGAIN (a round trip saves a system call per message). A hint
   * only, read and written by whichever thread receives.
   */
  boolean pollBeforeRead;

  /**
   * Takes ownership of an open descriptor.
   *
   * @param fd the descriptor, close-on-exec
   * @param kind what it is
   */
  public FdChannel(int fd, Kind kind) {
    this(fd, kind, null);
  }

  /**
   * Takes ownership of an open descriptor and of something to release after it is closed.
   *
   * @param fd the descriptor, close-on-exec
   * @param kind what it is
   * @param afterClose run once, after the descriptor is closed and no thread uses it; it must not
   *     refer to this channel
   */
  public FdChannel(int fd, Kind kind, Runnable afterClose) {
    if (fd < 0) {
      throw new IllegalArgumentException("invalid file descriptor: " + fd);
    }
    this.state = new FdState(fd, afterClose);
    this.kind = kind;
    CLEANER.register(this, state);
  }

  /**
   * Adds something to release after the descriptor is closed, as the constructor's {@code
   * afterClose} (which runs first); it runs once, after the descriptor is closed and no thread uses
   * it, on whichever thread that is (the Cleaner's too), and must not refer to this channel.
   *
   * @param action what to run
   * @return false if the descriptor is closed already (then {@code action} is not run)
   */
  public boolean addAfterClose(Runnable action) {
    return state.addAfterClose(action);
  }

  /**
   * The descriptor number (valid until closed).
   *
   * @return the descriptor
   */
  public int fd() {
    return state.fd;
  }

  /**
   * What kind of file this is.
   *
   * @return the kind
   */
  public Kind kind() {
    return kind;
  }

  /**
   * Whether the channel has been closed, by {@link #close}, an interrupt or the Cleaner.
   *
   * @return true when closed
   */
  public boolean isClosed() {
    return state.isClosed();
  }

  /**
   * Marks the start of an operation; the descriptor stays open until {@link #release}.
   *
   * @throws ClosedChannelException if the channel is closed
   */
  public void acquire() throws ClosedChannelException {
    state.acquire();
  }

  /**
   * As {@link #acquire}, but reports a closed channel as {@code false}.
   *
   * @return true if acquired
   */
  public boolean tryAcquire() {
    return state.tryAcquire();
  }

  /** Ends an operation started with {@link #acquire}. */
  public void release() {
    state.release();
  }

  /** The descriptor that becomes readable when this channel is closed (platform-thread waits). */
  int wakeFd() throws IOException {
    return state.wakeFd();
  }

  @Override
  protected void implCloseChannel() {
    state.close();
  }

  // ---------------------------------------------------------------- non-blocking I/O
  //
  // Native memory goes to the kernel as a raw address: no segment object per call, so a message
  // costs no allocation. Heap arrays go to a socket directly (critical downcalls with heap
  // access); a pipe reads and writes through the thread's native bounce buffer, since preadv2
  // and pwritev2 take addresses in an iovec.

  /**
   * Reads what is available now into native memory, without blocking. The caller holds {@link
   * #acquire}.
   *
   * @param s the calling thread's scratch
   * @param address where to read to
   * @param length at most this many bytes, at least 1
   * @return bytes read (&gt; 0), 0 at end of file, or -1 if nothing is available yet
   * @throws IOException if the read fails
   */
  public long readNow(Scratch s, long address, long length) throws IOException {
    int fd = state.fd;
    long r;
    if (kind == Kind.SOCKET) {
      do {
        r = outcome(Libc.recvRaw(s.errno, fd, address, length, Linux.MSG_DONTWAIT), s, "recv");
      } while (r == RETRY);
    } else {
      MemorySegment iov = s.iovecs;
      iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_BASE, address);
      iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_LEN, length);
      do {
        r = pipeIo(s, iov, 1, false);
      } while (r == RETRY);
    }
    return r;
  }

  /**
   * Reads what is available now into a segment, heap or native, without blocking. The caller holds
   * {@link #acquire}.
   *
   * @param s the calling thread's scratch
   * @param dst where to read to; at least one byte long
   * @return bytes read (&gt; 0), 0 at end of file, or -1 if nothing is available yet
   * @throws IOException if the read fails
   */
  public long readNow(Scratch s, MemorySegment dst) throws IOException {
    long n = dst.byteSize();
    if (dst.isNative()) {
      return readNow(s, dst.address(), n);
    }
    if (kind == Kind.SOCKET) {
      long r;
      do {
        r = outcome(Libc.recvNonBlocking(s.errno, state.fd, dst, n, Linux.MSG_DONTWAIT), s, "recv");
      } while (r == RETRY);
      return r;
    }
    MemorySegment bounce = s.bounce(n);
    long r = readNow(s, bounce.address(), Math.min(n, bounce.byteSize()));
    if (r > 0) {
      MemorySegment.copy(bounce, 0, dst, 0, r);
    }
    return r;
  }

  /**
   * Writes what fits now from native memory, without blocking. The caller holds {@link #acquire}.
   *
   * @param s the calling thread's scratch
   * @param address what to write
   * @param length how many bytes, at least 1
   * @return bytes written (&gt; 0), or -1 if nothing fits yet
   * @throws IOException if the write fails ({@link io.jpipe.BrokenPipeException} when the reading
   *     side is closed everywhere)
   */
  public long writeNow(Scratch s, long address, long length) throws IOException {
    if (kind == Kind.SOCKET) {
      long r;
      do {
        r =
            outcome(
                Libc.sendRaw(
                    s.errno, state.fd, address, length, Linux.MSG_DONTWAIT | Linux.MSG_NOSIGNAL),
                s,
                "send");
      } while (r == RETRY);
      return r;
    }
    MemorySegment iov = s.iovecs;
    iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_BASE, address);
    iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_LEN, length);
    return pwrite(s, iov, 1);
  }

  /**
   * Writes what fits now from a segment, heap or native, without blocking. The caller holds {@link
   * #acquire}.
   *
   * @param s the calling thread's scratch
   * @param src what to write, at least one byte
   * @return bytes written (&gt; 0), or -1 if nothing fits yet
   * @throws IOException if the write fails
   */
  public long writeNow(Scratch s, MemorySegment src) throws IOException {
    long n = src.byteSize();
    if (src.isNative()) {
      return writeNow(s, src.address(), n);
    }
    if (kind == Kind.SOCKET) {
      long r;
      do {
        r =
            outcome(
                Libc.sendNonBlocking(
                    s.errno, state.fd, src, n, Linux.MSG_DONTWAIT | Linux.MSG_NOSIGNAL),
                s,
                "send");
      } while (r == RETRY);
      return r;
    }
    MemorySegment bounce = s.bounce(n);
    long chunk = Math.min(n, bounce.byteSize());
    MemorySegment.copy(src, 0, bounce, 0, chunk);
    return writeNow(s, bounce.address(), chunk);
  }

  /**
   * Writes what fits now of two native ranges, as one system call (gather).
   *
   * @param s the calling thread's scratch
   * @param a the first range's address
   * @param aLength its length (may be 0)
   * @param b the second range's address
   * @param bLength its length (may be 0; not both 0)
   * @return bytes written (&gt; 0), or -1 if nothing fits yet
   * @throws IOException if the write fails
   */
  public long writeNow(Scratch s, long a, long aLength, long b, long bLength) throws IOException {
    MemorySegment iov = s.iovecs;
    int cnt = 0;
    if (aLength > 0) {
      iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_BASE, a);
      iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_LEN, aLength);
      cnt++;
    }
    if (bLength > 0) {
      long at = cnt * Linux.IOVEC.byteSize();
      iov.set(ValueLayout.JAVA_LONG, at + Linux.IOVEC_BASE, b);
      iov.set(ValueLayout.JAVA_LONG, at + Linux.IOVEC_LEN, bLength);
      cnt++;
    }
    if (kind != Kind.SOCKET) {
      return pwrite(s, iov, cnt);
    }
    MemorySegment msg = s.msghdr;
    msg.fill((byte) 0);
    msg.set(ValueLayout.ADDRESS, Linux.MSGHDR_IOV, iov);
    msg.set(ValueLayout.JAVA_LONG, Linux.MSGHDR_IOVLEN, cnt);
    long r;
    do {
      r =
          outcome(
              Libc.sendmsgNonBlocking(
                  s.errno, state.fd, msg, Linux.MSG_DONTWAIT | Linux.MSG_NOSIGNAL),
              s,
              "sendmsg");
    } while (r == RETRY);
    return r;
  }

  private long pwrite(Scratch s, MemorySegment iov, int cnt) throws IOException {
    long r;
    do {
      r = pipeIo(s, iov, cnt, true);
    } while (r == RETRY);
    return r;
  }

  /**
   * Whether the kernel takes {@code RWF_NOWAIT} on pipes (Linux 6.4 and later). Learnt from the
   * first refusal; {@code -Djpipe.pipe.nowait=false} starts without it.
   */
  private static volatile boolean pipeNoWait =
      !"false".equalsIgnoreCase(System.getProperty("jpipe.pipe.nowait"));

  /**
   * One non-blocking read or write on a pipe, as {@link #outcome}. With {@code RWF_NOWAIT} it goes
   * to the descriptor itself; without, to a private non-blocking description of the same pipe
   * ({@link #usePrivateDescription}), which leaves the shared description's flags alone just the
   * same.
   */
  private long pipeIo(Scratch s, MemorySegment iov, int cnt, boolean write) throws IOException {
    String call = write ? "write" : "read";
    for (; ; ) {
      int io = state.ioFd;
      boolean own = io != state.fd;
      if (!own && !pipeNoWait) {
        usePrivateDescription(s);
        continue;
      }
      int flags = own ? 0 : Linux.RWF_NOWAIT;
      long r =
          write
              ? Libc.pwritev2NoWait(s.errno, io, iov, cnt, flags)
              : Libc.preadv2NoWait(s.errno, io, iov, cnt, flags);
      if (r < 0 && !own && Native.errno(s.errno) == Linux.EOPNOTSUPP) {
        pipeNoWait = false; // a kernel before 6.4: nothing happened, go the other way
        continue;
      }
      return outcome(r, s, call);
    }
  }

  /**
   * Opens a second, private description of this pipe end ({@code /proc/self/fd/N}) with {@code
   * O_NONBLOCK}, for kernels that refuse {@code RWF_NOWAIT} on pipes. Reopening a pipe through
   * {@code /proc} makes a new open file description of the same pipe, with flags of its own; it is
   * never inherited (close-on-exec, not what children are given) and is closed with the descriptor,
   * so end of file is unchanged. The caller holds {@link #acquire}.
   *
   * @param s the calling thread's scratch
   * @throws IOException if the pipe cannot be reopened (no {@code /proc}, say)
   */
  public void usePrivateDescription(Scratch s) throws IOException {
    synchronized (state) {
      if (state.ioFd != state.fd) {
        return;
      }
      int fl = Libc.fcntl(s.errno, state.fd, Linux.F_GETFL, 0);
      if (fl < 0) {
        throw Errno.exception("fcntl F_GETFL", Native.errno(s.errno));
      }
      int fd;
      try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
        MemorySegment path = arena.allocateFrom("/proc/self/fd/" + state.fd);
        fd =
            Libc.open(
                s.errno, path, (fl & Linux.O_ACCMODE) | Linux.O_NONBLOCK | Linux.O_CLOEXEC, 0);
      }
      if (fd < 0) {
        throw Errno.exception("open /proc/self/fd/" + state.fd, Native.errno(s.errno));
      }
      state.ioFd = fd;
    }
  }

  /** What {@link #outcome} returns for EINTR: call again. */
  private static final long RETRY = IoStatus.INTERRUPTED;

  /** A non-blocking call's result, as {@link IoStatus#of}. */
  private static long outcome(long r, Scratch s, String call) throws IOException {
    return IoStatus.of(r, s.errno, call);
  }

  // ---------------------------------------------------------------- waiting

  /**
   * Polls the descriptor without waiting.
   *
   * @param s the calling thread's scratch
   * @param events {@code POLLIN} or {@code POLLOUT}
   * @return true if ready (or at end of file, or in error)
   * @throws IOException if poll fails
   */
  public boolean readyNow(Scratch s, short events) throws IOException {
    PollSet p = s.polls;
    p.clear();
    p.add(state.fd, events);
    return p.pollNow(s) > 0;
  }

  /**
   * Waits until the descriptor is ready, the deadline passes, or the channel is closed. The caller
   * holds {@link #acquire}. A platform thread polls the descriptor and the channel's wake
   * descriptor; a virtual thread parks (see {@link Poller}), so its carrier is free meanwhile.
   *
   * @param s the calling thread's scratch
   * @param events {@code POLLIN} or {@code POLLOUT}
   * @param deadline a {@link System#nanoTime} value, or {@link #NO_DEADLINE}
   * @return true if ready (or at end of file, or in error), false if the deadline passed
   * @throws AsynchronousCloseException if another thread closed the channel meanwhile
   * @throws java.nio.channels.ClosedByInterruptException if the thread was interrupted (the channel
   *     is then closed and the interrupt status stays set)
   * @throws IOException if poll fails
   */
  public boolean await(Scratch s, short events, long deadline) throws IOException {
    if (Thread.currentThread().isVirtual()) {
      return awaitParked(s, events, deadline);
    }
    int wake = state.wakeFd();
    PollSet p = s.polls;
    boolean completed = false;
    boolean ready = false;
    try {
      begin();
      while (!state.isClosed()) {
        p.clear();
        p.add(state.fd, events);
        p.add(wake, Linux.POLLIN);
        int r = p.poll(s, deadline);
        if (p.revents(1) != 0) {
          break; // woken by close
        }
        if (r > 0) {
          ready = true;
          completed = true;
          break;
        }
        if (passed(deadline)) {
          completed = true;
          break;
        }
      }
    } finally {
      end(completed);
      Reference.reachabilityFence(this);
    }
    if (!completed) {
      throw new AsynchronousCloseException(); // closed by the Cleaner path, not by close()
    }
    return ready;
  }

  /** {@link #await} for a virtual thread: register with the poller and park. */
  private boolean awaitParked(Scratch s, short events, long deadline) throws IOException {
    if (readyNow(s, events)) {
      return true; // the common case costs one poll, and no poller round trip
    }
    Poller poller = Poller.get();
    boolean completed = false;
    boolean ready = false;
    try {
      begin();
      Poller.Waiter w = poller.register(state.fd, events);
      try {
        for (; ; ) {
          if (w.fired()) {
            ready = completed = true;
            break;
          }
          if (state.isClosed()) {
            break; // close() and interrupts close the channel, then wake us (FdState.close)
          }
          if (deadline == NO_DEADLINE) {
            LockSupport.park(this);
          } else {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
              completed = true;
              break;
            }
            LockSupport.parkNanos(this, left);
          }
        }
      } finally {
        poller.cancel(w);
      }
    } finally {
      end(completed);
      Reference.reachabilityFence(this);
    }
    if (!completed) {
      throw new AsynchronousCloseException();
    }
    return ready;
  }

  /**
   * Whether a deadline has passed.
   *
   * @param deadline a {@link System#nanoTime} value, {@link #NO_DEADLINE} or {@link #NOW}
   * @return true if it has
   */
  public static boolean passed(long deadline) {
    return deadline != NO_DEADLINE && (deadline == NOW || deadline - System.nanoTime() <= 0);
  }

  /** poll's timeout for a deadline: -1 for none, else milliseconds rounded up. */
  static int timeoutMillis(long deadline) {
    if (deadline == NO_DEADLINE) {
      return -1;
    }
    if (deadline == NOW) {
      return 0;
    }
    long remaining = deadline - System.nanoTime();
    if (remaining <= 0) {
      return 0;
    }
    long ms = (remaining + 999_999) / 1_000_000;
    return (int) Math.min(ms, Integer.MAX_VALUE);
  }

  /**
   * The deadline {@code timeoutNanos} from now, saturating to {@link #NO_DEADLINE}.
   *
   * @param timeoutNanos the timeout; negative means none left
   * @return a deadline for {@link #await}
   */
  public static long deadlineAfter(long timeoutNanos) {
    if (timeoutNanos >= Long.MAX_VALUE / 4) {
      return NO_DEADLINE;
    }
    long d = System.nanoTime() + Math.max(0, timeoutNanos);
    return d == NO_DEADLINE ? d - 1 : d;
  }

  @Override
  public String toString() {
    return "FdChannel[fd=" + state.fd + ", " + kind + (state.isClosed() ? ", closed]" : "]");
  }
}
