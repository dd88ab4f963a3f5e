package io.jpipe.internal.sync;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Memory;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A robust, process-shared, error-checking {@code pthread_mutex_t} in a page of shared memory
 * ({@code memfd}), which any process holding the descriptor can map.
 *
 * <p>Robust: when the owning thread dies (its process killed), the kernel marks the mutex and the
 * next locker gets it with EOWNERDEAD; this class then makes it consistent at once, so the mutex
 * never becomes unusable. Error-checking: unlock by a thread that does not own it is EPERM, not
 * undefined behaviour.
 *
 * <p>The mapping is released only when no thread is inside a call (the use count of {@link
 * FdChannel}), so closing never pulls memory from under a blocked locker; and never while a thread
 * of this process holds the mutex: glibc links a held robust mutex into the holder thread's robust
 * list through the mutex's own memory, so unmapping it would leave that list pointing at nothing
 * (the next robust lock of that thread, or its exit, would write there). Such a page is left
 * mapped: 4 KiB, rather than a crash.
 */
public final class SharedMutex {
  /**
   * Shared memory size: one page. Memory asked for beyond it ({@link #create(long)}) starts here.
   */
  public static final long SIZE = 4096;

  /**
   * Where in the page a word of flags is kept, far past the {@code pthread_mutex_t}: what kind of
   * lock this is, for the processes that receive it.
   */
  private static final long FLAGS_OFFSET = 2048;

  /** Flag: the lock is reentrant (CPython's {@code RLock}). */
  public static final int REENTRANT = 1;

  /** Results of the locking calls. */
  public static final int OK = 0;

  /** The lock was taken from an owner that died; it is consistent again. */
  public static final int OWNER_DIED = Linux.EOWNERDEAD;

  /** Another thread holds the lock (try) or the time ran out (timed). */
  public static final int BUSY = Linux.EBUSY;

  /** The calling thread already holds the lock. */
  public static final int DEADLOCK = Linux.EDEADLK;

  /** The calling thread does not hold the lock (unlock). */
  public static final int NOT_OWNER = Linux.EPERM;

  private final FdChannel channel;
  private final MemorySegment mutex;

  /** The thread of this process that holds the mutex, or null. */
  private final AtomicReference<Thread> holder = new AtomicReference<>();

  private SharedMutex(int memfd, MemorySegment map) {
    this.mutex = map;
    AtomicReference<Thread> held = holder;
    this.channel =
        new FdChannel(
            memfd,
            FdChannel.Kind.OTHER,
            () -> {
              Thread t = held.get();
              if (t == null || !t.isAlive()) { // a dead thread's robust list is gone with it
                Memory.unmap(map);
              }
            });
  }

  /**
   * Creates a new mutex in new shared memory.
   *
   * @return the mutex
   * @throws IOException if memory or a descriptor cannot be had
   */
  public static SharedMutex create() throws IOException {
    return create(0);
  }

  /**
   * Creates a new mutex in new shared memory, followed by {@code extraBytes} of zeroed shared
   * memory from offset {@link #SIZE} of the memfd on: memory that travels to child processes with
   * the mutex's descriptor (see {@link SharedCells}). Only the mutex's page is mapped here.
   *
   * @param extraBytes bytes after the mutex's page, at least 0
   * @return the mutex
   * @throws IOException if memory or a descriptor cannot be had
   */
  public static SharedMutex create(long extraBytes) throws IOException {
    return create(extraBytes, 0);
  }

  /**
   * Creates a new mutex as {@link #create(long)} does, with flags that every process that maps it
   * reads ({@link #flags()}).
   *
   * @param extraBytes bytes after the mutex's page, at least 0
   * @param flags {@link #REENTRANT} or 0
   * @return the mutex
   * @throws IOException if memory or a descriptor cannot be had
   */
  public static SharedMutex create(long extraBytes, int flags) throws IOException {
    if (extraBytes < 0) {
      throw new IllegalArgumentException("extraBytes < 0: " + extraBytes);
    }
    Scratch s = Scratch.get();
    int fd;
    try (Arena arena = Arena.ofConfined()) {
      fd = Libc.memfdCreate(s.errno, arena.allocateFrom("jpipe-lock"), Linux.MFD_CLOEXEC);
    }
    if (fd < 0) {
      throw Errno.exception("memfd_create", Native.errno(s.errno));
    }
    try {
      if (Libc.ftruncate(s.errno, fd, SIZE + extraBytes) != 0) {
        throw Errno.exception("ftruncate", Native.errno(s.errno));
      }
      MemorySegment map = Memory.mapShared(s.errno, fd, SIZE);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment attr = arena.allocate(Linux.PTHREAD_MUTEXATTR_SIZE, 8);
        check("pthread_mutexattr_init", Libc.mutexattrInit(attr));
        check(
            "pthread_mutexattr_setpshared",
            Libc.mutexattrSetpshared(attr, Linux.PTHREAD_PROCESS_SHARED));
        check(
            "pthread_mutexattr_setrobust",
            Libc.mutexattrSetrobust(attr, Linux.PTHREAD_MUTEX_ROBUST));
        check(
            "pthread_mutexattr_settype",
            Libc.mutexattrSettype(attr, Linux.PTHREAD_MUTEX_ERRORCHECK));
        check("pthread_mutex_init", Libc.mutexInit(map, attr));
        Libc.mutexattrDestroy(attr);
        map.set(ValueLayout.JAVA_INT, FLAGS_OFFSET, flags);
      } catch (IOException | RuntimeException e) {
        Memory.unmap(map);
        throw e;
      }
      return new SharedMutex(fd, map);
    } catch (IOException | RuntimeException e) {
      Libc.close(s.errno, fd);
      throw e;
    }
  }

  /**
   * Maps the mutex another process created, from its inherited descriptor (taken over).
   *
   * @param fd the memfd
   * @return the mutex
   * @throws IOException if the memory cannot be mapped
   */
  public static SharedMutex attach(int fd) throws IOException {
    Scratch s = Scratch.get();
    return new SharedMutex(fd, Memory.mapShared(s.errno, fd, SIZE));
  }

  private static void check(String call, int error) throws IOException {
    if (error != 0) {
      throw Errno.exception(call, error);
    }
  }

  /**
   * The descriptor of the shared memory (to hand to a child process).
   *
   * @return the memfd
   */
  public FdChannel channel() {
    return channel;
  }

  /**
   * The flags the mutex was created with.
   *
   * @return {@link #REENTRANT} or 0
   */
  public int flags() {
    return mutex.get(ValueLayout.JAVA_INT, FLAGS_OFFSET);
  }

  /**
   * Tries to lock without waiting.
   *
   * @return {@link #OK}, {@link #OWNER_DIED}, {@link #BUSY} or {@link #DEADLOCK}
   * @throws ClosedChannelException if closed
   */
  public int tryLock() throws ClosedChannelException {
    channel.acquire();
    try {
      return consistent(Libc.mutexTrylock(mutex));
    } finally {
      channel.release();
    }
  }

  /**
   * Locks, waiting at most until {@code deadline} ({@link System#nanoTime}); the wait is one call
   * to {@code pthread_mutex_clocklock} on CLOCK_MONOTONIC.
   *
   * @param deadlineNanos the deadline on the {@link System#nanoTime} clock
   * @return {@link #OK}, {@link #OWNER_DIED}, {@link #BUSY} (timed out) or {@link #DEADLOCK}
   * @throws ClosedChannelException if closed
   * @throws IOException if the call fails otherwise
   */
  public int lockUntil(long deadlineNanos) throws IOException {
    channel.acquire();
    try {
      Scratch s = Scratch.get();
      MemorySegment ts = s.small;
      if (Libc.clockGettime(s.errno, Linux.CLOCK_MONOTONIC, ts) != 0) {
        throw Errno.exception("clock_gettime", Native.errno(s.errno));
      }
      long remaining = Math.max(0, deadlineNanos - System.nanoTime());
      long sec = ts.get(ValueLayout.JAVA_LONG, 0);
      long nsec = ts.get(ValueLayout.JAVA_LONG, 8) + remaining % 1_000_000_000L;
      sec += remaining / 1_000_000_000L + nsec / 1_000_000_000L;
      ts.set(ValueLayout.JAVA_LONG, 0, sec);
      ts.set(ValueLayout.JAVA_LONG, 8, nsec % 1_000_000_000L);
      int r = Libc.mutexClocklock(mutex, Linux.CLOCK_MONOTONIC, ts);
      if (r == Linux.ETIMEDOUT) {
        return BUSY;
      }
      if (r != 0 && r != Linux.EOWNERDEAD && r != Linux.EDEADLK) {
        throw Errno.exception("pthread_mutex_clocklock", r);
      }
      return consistent(r);
    } finally {
      channel.release();
    }
  }

  /**
   * Unlocks.
   *
   * @return {@link #OK} or {@link #NOT_OWNER}
   * @throws ClosedChannelException if closed
   */
  public int unlock() throws ClosedChannelException {
    channel.acquire();
    try {
      // Cleared before the unlock: after it, another thread may hold the mutex and have set it.
      Thread me = Thread.currentThread();
      boolean mine = holder.compareAndSet(me, null);
      int r = Libc.mutexUnlock(mutex);
      if (r != 0 && mine) {
        holder.set(me);
      }
      return r;
    } finally {
      channel.release();
    }
  }

  private int consistent(int r) {
    if (r == Linux.EOWNERDEAD) {
      Libc.mutexConsistent(mutex);
    }
    if (r == 0 || r == Linux.EOWNERDEAD) {
      holder.set(Thread.currentThread());
    }
    return r;
  }

  /**
   * Whether the calling thread holds the mutex.
   *
   * @return true if held by this thread
   */
  public boolean heldByCurrentThread() {
    return holder.get() == Thread.currentThread();
  }

  /**
   * Closes in this process (the mutex lives on in others). If the calling thread holds the mutex,
   * it is unlocked first; if another thread of this process holds it, its page stays mapped.
   */
  public void close() {
    if (heldByCurrentThread() && !isClosed()) {
      try {
        unlock();
      } catch (ClosedChannelException e) {
        // closed meanwhile by another thread
      }
    }
    try {
      channel.close();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Whether closed in this process.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return channel.isClosed() || !channel.isOpen();
  }
}
