package io.jpipe.internal.io;

import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The life of one file descriptor: open, in use by some threads, closed.
 *
 * <p>{@code close} never closes the descriptor under a thread that is using it: the number would be
 * free for reuse while that thread still passes it to the kernel (CPython has exactly that bug).
 * Instead every operation holds a use count ({@link #acquire}/{@link #release}); {@code close}
 * marks the state closed, wakes blocked users through the wake descriptor, and whoever drops the
 * count to zero closes the descriptor. The Cleaner runs {@link #run}, so this object must never
 * refer to the channel or connection that owns it.
 */
final class FdState implements Runnable {
  private static final int CLOSED = Integer.MIN_VALUE;

  final int fd;

  /** Sign bit: closed. Other bits: operations in progress (plus one during {@code close}). */
  private final AtomicInteger state = new AtomicInteger();

  /** eventfd written once on close to wake pollers; -1 until a thread first blocks. */
  private volatile int wakeFd = -1;

  /**
   * Where a pipe's reads and writes go: {@link #fd} itself, or (on kernels without {@code
   * RWF_NOWAIT} for pipes) a private non-blocking description of the same pipe, closed with it.
   * Changed only by a thread holding a use count, under this object's lock.
   */
  volatile int ioFd;

  /**
   * Runs after the descriptor is closed (unmapping shared memory, reporting a connection's
   * traffic); never refers to the owner. Guarded by this, as is {@link #descriptorClosed}.
   */
  private Runnable afterClose;

  private boolean descriptorClosed;

  FdState(int fd, Runnable afterClose) {
    this.fd = fd;
    this.ioFd = fd;
    this.afterClose = afterClose;
  }

  void acquire() throws ClosedChannelException {
    for (; ; ) {
      int s = state.get();
      if (s < 0) {
        throw new ClosedChannelException();
      }
      if (state.compareAndSet(s, s + 1)) {
        return;
      }
    }
  }

  /** Like {@link #acquire} but reports a closed state as {@code false}. */
  boolean tryAcquire() {
    for (; ; ) {
      int s = state.get();
      if (s < 0) {
        return false;
      }
      if (state.compareAndSet(s, s + 1)) {
        return true;
      }
    }
  }

  void release() {
    int s = state.decrementAndGet();
    if (s == CLOSED) {
      closeNow();
    } else if (s == Integer.MAX_VALUE || s == -1) {
      // released more often than acquired: a bug that would reopen a closed state
      throw new IllegalStateException("FdState released without a matching acquire");
    }
  }

  boolean isClosed() {
    return state.get() < 0;
  }

  /** Closes (idempotent): marks closed, wakes blocked users, closes when the last one leaves. */
  void close() {
    int s = state.getAndUpdate(v -> v < 0 ? v : (v | CLOSED) + 1);
    if (s < 0) {
      return;
    }
    try {
      Poller.wakeAll(fd); // virtual threads parked on this descriptor
      int w = wakeFd;
      if (w != -1) {
        Scratch scratch = Scratch.get();
        scratch.word.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1L);
        Libc.write(scratch.errno, w, scratch.word, 8); // an eventfd write cannot block here
      }
    } finally {
      release();
    }
  }

  @Override
  public void run() {
    close();
  }

  /**
   * Adds an action to run after the descriptor is closed, after any given before.
   *
   * @return false if the descriptor is closed already (the action is not run)
   */
  synchronized boolean addAfterClose(Runnable action) {
    if (descriptorClosed) {
      return false;
    }
    Runnable first = afterClose;
    afterClose =
        first == null
            ? action
            : () -> {
              try {
                first.run();
              } finally {
                action.run();
              }
            };
    return true;
  }

  /**
   * The descriptor that becomes readable when this state is closed; created on first use. The
   * caller holds a use count.
   */
  int wakeFd() throws java.io.IOException {
    int w = wakeFd;
    if (w != -1) {
      return w;
    }
    synchronized (this) {
      w = wakeFd;
      if (w == -1) {
        Scratch scratch = Scratch.get();
        w = Libc.eventfd(scratch.errno, 0, Linux.EFD_CLOEXEC | Linux.EFD_NONBLOCK);
        if (w < 0) {
          throw io.jpipe.internal.posix.Errno.exception(
              "eventfd", io.jpipe.internal.posix.Native.errno(scratch.errno));
        }
        wakeFd = w;
      }
      return w;
    }
  }

  private void closeNow() {
    Scratch scratch = Scratch.get();
    Libc.close(scratch.errno, fd); // errors ignored: on Linux the descriptor is gone either way
    if (ioFd != fd) {
      Libc.close(scratch.errno, ioFd);
    }
    int w = wakeFd;
    if (w != -1) {
      Libc.close(scratch.errno, w);
    }
    Runnable after;
    synchronized (this) {
      descriptorClosed = true;
      after = afterClose;
    }
    if (after != null) {
      after.run();
    }
  }
}
