package io.jpipe.internal.sync;

import io.jpipe.ProcessLock;
import io.jpipe.internal.Access;
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
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The memory of a typed shared value ({@code io.jpipe.SharedLong} and the others): a memfd whose
 * first page holds a {@link SharedMutex} (the value's {@link ProcessLock}) and whose next pages
 * hold the cells. One descriptor carries both, so a value goes to a child process as its lock does
 * (the child inherits the descriptor), and nothing is left behind in any file system: the memory
 * goes when the last process closes it or ends.
 *
 * <p>The cells are mapped in a shared {@link Arena}: after {@link #close()} every access throws
 * {@link IllegalStateException}, never touches unmapped memory.
 *
 * <p>Cells dropped without {@link #close()} are unmapped when this object is garbage-collected (a
 * {@link Cleaner}; see {@link #unmapWhenUnreachable}); the lock is then left to its own clean-up,
 * since it may be in use on its own ({@code SharedLong.lock()}). So {@link #segment()}, and the
 * words made on it, are usable only while this object is reachable: keep the owner of the cells
 * (the value, the event...) as long as its memory is used. An access after the clean-up throws
 * {@link IllegalStateException}; it never touches unmapped memory.
 */
public final class SharedCells {
  /** Unmaps the memory of shared objects dropped without being closed. */
  private static final Cleaner CLEANER = Cleaner.create();

  private final ProcessLock lock;
  private final Arena arena;
  private final MemorySegment cells;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Cleaner.Cleanable unmap;

  private SharedCells(ProcessLock lock, Arena arena, MemorySegment cells) {
    this.lock = lock;
    this.arena = arena;
    this.cells = cells;
    this.unmap = unmapWhenUnreachable(this, arena);
  }

  /**
   * Closes {@code arena} (unmapping what it owns) once {@code owner} is unreachable, unless done
   * before by {@link Cleaner.Cleanable#clean()} or a close of the arena. The clean-up refers to the
   * arena only, never to the owner. Closing a shared arena is safe against every thread of this
   * process: an access that follows, or that is under way, throws {@link IllegalStateException},
   * never touches unmapped memory; if a thread is inside a native call on its memory, the arena
   * cannot be closed and the mapping is left (rather than unmapped under that call).
   *
   * @param owner the object whose reachability keeps the memory mapped
   * @param arena a shared arena owning the mapping
   * @return the registration, to run at an explicit close
   */
  public static Cleaner.Cleanable unmapWhenUnreachable(Object owner, Arena arena) {
    return CLEANER.register(owner, new Unmap(arena));
  }

  /** The clean-up: closes the arena if still open. Must never refer to the owner. */
  private record Unmap(Arena arena) implements Runnable {
    @Override
    public void run() {
      if (arena.scope().isAlive()) {
        try {
          arena.close();
        } catch (IllegalStateException e) {
          // closed meanwhile, or a native call holds it: leave the mapping rather than crash
        }
      }
    }
  }

  /**
   * Creates new, zeroed cells and their lock.
   *
   * @param bytes the size of the cells, at least 0
   * @return the cells
   * @throws IOException if shared memory cannot be had
   */
  public static SharedCells create(long bytes) throws IOException {
    SharedMutex mutex = SharedMutex.create(mapped(bytes));
    ProcessLock lock = Access.locks().wrap(mutex);
    try {
      return map(lock, bytes);
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw e;
    }
  }

  /**
   * Maps the cells that come with a lock another process created them with (a lock a child process
   * received), checking that the memory is as long as expected.
   *
   * @param lock the lock the cells came with
   * @param bytes the size of the cells
   * @return the cells
   * @throws IOException if the memory is shorter than that, or cannot be mapped
   */
  public static SharedCells attach(ProcessLock lock, long bytes) throws IOException {
    if (bytes < 0) {
      throw new IOException("negative size of shared cells: " + bytes);
    }
    FdChannel ch = Access.locks().mutex(lock).channel();
    ch.acquire();
    try (Arena tmp = Arena.ofConfined()) {
      Scratch s = Scratch.get();
      MemorySegment st = tmp.allocate(Linux.STAT_SIZE, 8);
      if (Libc.fstat(s.errno, ch.fd(), st) != 0) {
        throw Errno.exception("fstat", Native.errno(s.errno));
      }
      long have = st.get(ValueLayout.JAVA_LONG, Linux.STAT_ST_SIZE) - SharedMutex.SIZE;
      if (have < mapped(bytes)) {
        throw new IOException(
            "shared value's memory holds " + have + " bytes, " + mapped(bytes) + " expected");
      }
      return map(lock, bytes);
    } finally {
      ch.release();
    }
  }

  /** At least one word is mapped, so that an empty array has a mapping too. */
  private static long mapped(long bytes) {
    return Math.max(bytes, Long.BYTES);
  }

  private static SharedCells map(ProcessLock lock, long bytes) throws IOException {
    FdChannel ch = Access.locks().mutex(lock).channel();
    ch.acquire();
    try {
      Scratch s = Scratch.get();
      MemorySegment map = Memory.mapShared(s.errno, ch.fd(), mapped(bytes), SharedMutex.SIZE);
      Arena arena = Arena.ofShared();
      return new SharedCells(lock, arena, Memory.attach(map, arena).asSlice(0, bytes));
    } finally {
      ch.release();
    }
  }

  /**
   * The cells: shared memory, 8-byte aligned.
   *
   * @return the memory; unusable after {@link #close()}
   */
  public MemorySegment segment() {
    return cells;
  }

  /**
   * A futex word in the cells that keeps these cells (whose Cleaner unmaps them) reachable while it
   * is used.
   *
   * @param offset where the word is, a multiple of 4
   * @return the word
   */
  public SharedWord word(long offset) {
    return new SharedWord(cells, offset, this);
  }

  /**
   * The lock that came with the cells.
   *
   * @return the lock
   */
  public ProcessLock lock() {
    return lock;
  }

  /**
   * Unmaps the cells and closes the lock, in this process. Idempotent. Also done, for the cells but
   * not the lock, when this object is garbage-collected.
   */
  public void close() {
    if (closed.compareAndSet(false, true)) {
      arena.close(); // throws if a thread is inside a native call on the memory, as before
      unmap.clean(); // deregisters: nothing left for the Cleaner
      lock.close();
    }
  }

  /**
   * Whether closed in this process.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return closed.get();
  }
}
