package io.jpipe.internal.io;

import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.spi.AbstractInterruptibleChannel;
import java.util.concurrent.locks.LockSupport;

/**
 * Waiting on many descriptors at once ({@code Connections.waitAny}): wakes at once on readiness, on
 * the close of any channel waited on, and on interrupt; no time slices.
 */
public final class Waits {
  private Waits() {}

  /**
   * Waits until a descriptor is readable (or at end of file, or in error), a channel is closed, the
   * deadline passes, or the thread is interrupted. The caller holds {@link FdChannel#acquire} on
   * every channel given.
   *
   * @param channels per descriptor its channel, or null for a bare descriptor
   * @param fds the descriptors
   * @param deadline a {@link System#nanoTime} value, {@link FdChannel#NO_DEADLINE} or {@link
   *     FdChannel#NOW}
   * @return which are ready; none if the deadline passed
   * @throws InterruptedException if the thread was interrupted and nothing is ready (its interrupt
   *     status is then cleared; with something ready it stays set)
   * @throws IOException if poll fails (a bad descriptor, say)
   */
  public static boolean[] any(FdChannel[] channels, int[] fds, long deadline)
      throws IOException, InterruptedException {
    try (Arena arena = Arena.ofConfined()) {
      Scratch s = Scratch.get();
      PollSet set = new PollSet(arena, 2 * fds.length + 1);
      for (int fd : fds) {
        set.add(fd, Linux.POLLIN);
      }
      boolean[] ready = new boolean[fds.length];
      if (collect(s, set, channels, ready) || FdChannel.passed(deadline)) {
        return ready;
      }
      if (Thread.currentThread().isVirtual()) {
        parked(channels, fds, deadline);
      } else {
        polled(s, set, channels, deadline);
      }
      if (!collect(s, set, channels, ready) && Thread.interrupted()) {
        throw new InterruptedException(); // nothing ready: the interrupt ends the wait
      }
      return ready; // an interrupt that came with a result stays pending, as Java's convention is
    }
  }

  /** Polls without waiting; true if anything is ready. */
  private static boolean collect(Scratch s, PollSet set, FdChannel[] channels, boolean[] ready)
      throws IOException {
    int n = ready.length;
    PollSet now = set;
    now.poll(s, FdChannel.NOW);
    boolean any = false;
    for (int i = 0; i < n; i++) {
      ready[i] = now.revents(i) != 0 || (channels[i] != null && channels[i].isClosed());
      any |= ready[i];
    }
    return any;
  }

  /**
   * A platform thread polls the descriptors, the channels' wake descriptors and its own interrupt
   * descriptor; it returns when one of them is readable or the deadline passes.
   */
  private static void polled(Scratch s, PollSet set, FdChannel[] channels, long deadline)
      throws IOException {
    for (FdChannel ch : channels) {
      if (ch != null) {
        set.add(ch.wakeFd(), Linux.POLLIN);
      }
    }
    int interruptFd = s.interruptFd();
    set.add(interruptFd, Linux.POLLIN);
    InterruptWake iw =
        new InterruptWake(
            () -> {
              Scratch w = Scratch.get(); // the interrupting thread's
              w.word.set(ValueLayout.JAVA_LONG, 0, 1L);
              Libc.write(w.errno, interruptFd, w.word, 8);
            });
    try {
      iw.enter();
      while (set.poll(s, deadline) == 0 && !FdChannel.passed(deadline)) {
        // woken early by nothing (rounding): poll again for the time left
      }
    } finally {
      iw.leave();
      Libc.read(s.errno, interruptFd, s.word, 8); // drain; non-blocking
    }
  }

  /** A virtual thread registers every descriptor with the poller and parks. */
  private static void parked(FdChannel[] channels, int[] fds, long deadline)
      throws IOException, InterruptedException {
    Poller poller = Poller.get();
    Poller.Waiter[] waiters = new Poller.Waiter[fds.length];
    try {
      for (int i = 0; i < fds.length; i++) {
        waiters[i] = poller.register(fds[i], Linux.POLLIN);
      }
      for (; ; ) {
        for (int i = 0; i < fds.length; i++) {
          if (waiters[i].fired() || (channels[i] != null && channels[i].isClosed())) {
            return;
          }
        }
        if (Thread.currentThread().isInterrupted()) {
          return;
        }
        if (deadline == FdChannel.NO_DEADLINE) {
          LockSupport.park(waiters);
        } else {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return;
          }
          LockSupport.parkNanos(waiters, left);
        }
      }
    } finally {
      for (Poller.Waiter w : waiters) {
        if (w != null) {
          poller.cancel(w);
        }
      }
    }
  }

  /**
   * Hooks {@link Thread#interrupt} for one blocking call of a platform thread, as an interruptible
   * channel does: between {@link #enter} and {@link #leave}, an interrupt runs the action given
   * (once, on the interrupting thread), which must wake the blocked call: write the thread's
   * interrupt eventfd ({@link Waits#any}), close a shared-memory end asleep in a {@code futex}.
   */
  public static final class InterruptWake extends AbstractInterruptibleChannel {
    private final Runnable onInterrupt;

    /**
     * A hook for one wait.
     *
     * @param onInterrupt what an interrupt runs, on the interrupting thread
     */
    public InterruptWake(Runnable onInterrupt) {
      this.onInterrupt = onInterrupt;
    }

    /** Begins the wait: from now on an interrupt runs the action. */
    public void enter() {
      begin();
    }

    /** Ends the wait; the interrupt status says whether it was interrupted. */
    public void leave() {
      try {
        end(true);
      } catch (ClosedByInterruptException e) {
        // interrupted: the status stays set, and the caller looks at it
      } catch (AsynchronousCloseException e) {
        throw new AssertionError(e); // nobody else can close this private object
      }
    }

    @Override
    protected void implCloseChannel() {
      onInterrupt.run();
    }
  }
}
