package io.jpipe;

import io.jpipe.internal.Access;
import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.io.Waits;
import io.jpipe.internal.shm.ShmEnd;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Waiting on many connections and processes at once (CPython's {@code
 * multiprocessing.connection.wait}; named {@code waitAny} because {@link Object#wait()} is taken).
 */
public final class Connections {
  private Connections() {}

  /**
   * Waits until at least one of {@code objects} is ready, or the timeout passes.
   *
   * <p>Ready means: a {@link Connection} has data to receive or is at end of file (or closed
   * meanwhile, so that receiving throws); a {@link ChildProcess} has exited; an {@link Integer}
   * descriptor is readable; a {@code io.jpipe.net.Listener} has a client waiting.
   *
   * @param <T> the type of the objects
   * @param objects what to wait on, in the order the result keeps
   * @param timeout the longest wait; zero or negative returns at once
   * @return the ready objects, in input order; empty if the time ran out
   * @throws IllegalArgumentException if an object cannot be waited on, appears twice, or two share
   *     a descriptor
   * @throws java.nio.channels.ClosedChannelException if a connection is closed on entry
   * @throws IllegalStateException if a process has not been started or is closed
   * @throws InterruptedException if the thread is interrupted while waiting
   * @throws IOException if poll fails
   */
  public static <T> List<T> waitAny(Collection<? extends T> objects, Duration timeout)
      throws IOException, InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    return waitAny(objects, Math.max(0, Durations.toNanos(timeout)));
  }

  /**
   * Waits without limit until at least one of {@code objects} is ready; as {@link
   * #waitAny(Collection, Duration)}.
   *
   * @param <T> the type of the objects
   * @param objects what to wait on
   * @return the ready objects, in input order, never empty (unless {@code objects} is empty, when
   *     this waits until interrupted, as CPython does)
   * @throws IOException as {@link #waitAny(Collection, Duration)}
   * @throws InterruptedException if the thread is interrupted while waiting
   */
  public static <T> List<T> waitAny(Collection<? extends T> objects)
      throws IOException, InterruptedException {
    return waitAny(objects, Long.MAX_VALUE);
  }

  private static <T> List<T> waitAny(Collection<? extends T> objects, long timeoutNanos)
      throws IOException, InterruptedException {
    List<T> list = new ArrayList<>(objects);
    int n = list.size();
    FdChannel[] channels = new FdChannel[n];
    ShmEnd[] shm = new ShmEnd[n];
    int[] fds = new int[n];
    try {
      Set<Integer> seen = new HashSet<>();
      for (int i = 0; i < n; i++) {
        Object o = list.get(i);
        switch (o) {
          case Connection c -> {
            FdChannel ch = Access.connections().channel(c);
            ch.acquire();
            channels[i] = ch; // only acquired channels are released below
            fds[i] = ch.fd();
            if (c.isReadable()) {
              shm[i] = Access.connections().shm(c); // null on the kernel path
            }
          }
          case ChildProcess p -> {
            FdChannel ch = p.sentinelChannel();
            if (!ch.tryAcquire()) {
              throw new IllegalStateException("the process is closed: " + p);
            }
            channels[i] = ch;
            fds[i] = ch.fd();
          }
          case Integer fd -> {
            if (fd < 0) {
              throw new IllegalArgumentException("Invalid file descriptor: " + fd);
            }
            fds[i] = fd;
          }
          case null -> throw new IllegalArgumentException("cannot wait on null");
          default -> {
            FdChannel ch = Access.pollChannel(o);
            if (ch == null) {
              throw new IllegalArgumentException(
                  "cannot wait on " + o.getClass().getName() + ": " + o);
            }
            ch.acquire();
            channels[i] = ch;
            fds[i] = ch.fd();
          }
        }
        if (!seen.add(fds[i])) {
          throw new IllegalArgumentException(o + " (fd " + fds[i] + ") is already registered");
        }
      }
      return poll(list, channels, shm, fds, timeoutNanos);
    } finally {
      for (FdChannel ch : channels) {
        if (ch != null) {
          ch.release();
        }
      }
    }
  }

  /** How long a wait with shared-memory ends sleeps before it looks at their rings itself. */
  private static final long SHM_WAIT_SLICE_NANOS = 200_000_000L;

  private static boolean hasShm(ShmEnd[] shm) {
    for (ShmEnd e : shm) {
      if (e != null) {
        return true;
      }
    }
    return false;
  }

  /**
   * Waits with shared-memory ends among the objects: each counts as a sleeper of its ring (so that
   * writers ring its socket), a record already in a ring is ready at once, and a socket that polled
   * readable only for doorbells of records others took is not ready.
   */
  private static boolean[] pollShm(FdChannel[] channels, ShmEnd[] shm, int[] fds, long deadline)
      throws IOException, InterruptedException {
    int n = fds.length;
    boolean[] already = new boolean[n];
    boolean anyAlready = false;
    int entered = 0;
    try {
      for (; entered < n; entered++) {
        if (shm[entered] != null && shm[entered].enterWait()) {
          already[entered] = anyAlready = true;
        }
      }
      Scratch s = Scratch.get();
      for (; ; ) {
        // in slices: a doorbell a writer did not ring (a sleeper count that another process
        // corrupted) delays the wake-up by a slice at most, as for a reader
        long slice = FdChannel.deadlineAfter(SHM_WAIT_SLICE_NANOS);
        long until =
            anyAlready
                ? FdChannel.NOW
                : deadline == FdChannel.NO_DEADLINE || slice - deadline < 0 ? slice : deadline;
        boolean[] ready = Waits.any(channels, fds, until);
        boolean any = false;
        for (int i = 0; i < n; i++) {
          if (already[i]) {
            ready[i] = true;
          } else if (shm[i] != null && !channels[i].isClosed()) {
            ready[i] = (ready[i] || FdChannel.passed(until)) && shm[i].confirmReadable(s);
          }
          any |= ready[i];
        }
        if (any || FdChannel.passed(deadline)) {
          return ready;
        }
      }
    } finally {
      for (int i = 0; i < entered; i++) {
        if (shm[i] != null) {
          shm[i].exitWait();
        }
      }
    }
  }

  private static <T> List<T> poll(
      List<T> list, FdChannel[] channels, ShmEnd[] shm, int[] fds, long timeoutNanos)
      throws IOException, InterruptedException {
    long deadline = FdChannel.deadlineAfter(timeoutNanos);
    boolean[] ready = hasShm(shm) ? pollShm(channels, shm, fds, deadline) : null;
    if (ready == null) {
      ready = Waits.any(channels, fds, deadline);
    }
    List<T> result = new ArrayList<>();
    for (int i = 0; i < ready.length; i++) {
      if (ready[i]) {
        result.add(list.get(i));
      }
    }
    return result;
  }
}
