package io.jpipe.internal.io;

import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@code struct pollfd} array and the one loop that polls it, for platform threads: the wait
 * primitive under {@link FdChannel#await}, {@link Waits#any}, the reaper and the child's parent
 * watch. Virtual threads wait through {@link Poller} instead, which parks them.
 *
 * <p>Not thread-safe: one thread fills and polls a set.
 */
public final class PollSet {
  private static final long SIZE = Linux.POLLFD.byteSize();

  private final Arena arena;
  private MemorySegment fds;
  private int count;

  /**
   * A set with room for {@code capacity} descriptors (it grows when needed).
   *
   * @param arena where its memory lives
   * @param capacity initial room, at least 1
   */
  public PollSet(Arena arena, int capacity) {
    this.arena = arena;
    this.fds = arena.allocate(Linux.POLLFD, Math.max(1, capacity));
  }

  /**
   * A set over existing memory (a thread's scratch), which must hold {@code capacity} entries.
   *
   * @param memory at least {@code capacity} pollfd entries
   */
  PollSet(MemorySegment memory) {
    this.arena = null;
    this.fds = memory;
  }

  /** Empties the set. */
  public void clear() {
    count = 0;
  }

  /**
   * Adds a descriptor.
   *
   * @param fd the descriptor (a negative one is ignored by poll, as in C)
   * @param events {@code POLLIN} and/or {@code POLLOUT}
   * @return its index, for {@link #revents}
   */
  public int add(int fd, short events) {
    if ((count + 1) * SIZE > fds.byteSize()) {
      if (arena == null) {
        throw new IllegalStateException("a scratch poll set is full");
      }
      MemorySegment bigger = arena.allocate(Linux.POLLFD, 2L * (count + 1));
      MemorySegment.copy(fds, 0, bigger, 0, count * SIZE);
      fds = bigger;
    }
    long at = count * SIZE;
    fds.set(ValueLayout.JAVA_INT, at + Linux.POLLFD_FD, fd);
    fds.set(ValueLayout.JAVA_SHORT, at + Linux.POLLFD_EVENTS, events);
    fds.set(ValueLayout.JAVA_SHORT, at + Linux.POLLFD_REVENTS, (short) 0);
    return count++;
  }

  /**
   * How many descriptors the set holds.
   *
   * @return the count
   */
  public int size() {
    return count;
  }

  /**
   * What poll reported for one descriptor.
   *
   * @param i its index
   * @return its {@code revents} (0 if not ready)
   */
  public short revents(int i) {
    return fds.get(ValueLayout.JAVA_SHORT, i * SIZE + Linux.POLLFD_REVENTS);
  }

  /**
   * Polls until a descriptor is ready or the deadline passes; a signal ({@code EINTR}) polls again
   * with the time left.
   *
   * @param s the calling thread's scratch
   * @param deadline a {@link System#nanoTime} value, {@link FdChannel#NO_DEADLINE}, or {@link
   *     FdChannel#NOW} to poll without waiting
   * @return how many descriptors are ready (0 when the deadline passed)
   * @throws IOException if poll fails
   */
  public int poll(Scratch s, long deadline) throws IOException {
    for (; ; ) {
      for (int i = 0; i < count; i++) {
        fds.set(ValueLayout.JAVA_SHORT, i * SIZE + Linux.POLLFD_REVENTS, (short) 0);
      }
      int r =
          IoStatus.check(
              Libc.poll(s.errno, fds, count, FdChannel.timeoutMillis(deadline)), s.errno, "poll");
      if (r != IoStatus.INTERRUPTED) {
        return r;
      }
    }
  }

  /**
   * Polls without waiting.
   *
   * @param s the calling thread's scratch
   * @return how many descriptors are ready
   * @throws IOException if poll fails
   */
  public int pollNow(Scratch s) throws IOException {
    return poll(s, FdChannel.NOW);
  }
}
