package io.jpipe.internal.spawn;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.IoStatus;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A child process this JVM spawned (a child, or a warm spare before and after it takes a task): its
 * pid, its pidfd (the public sentinel), signals, and its exit as a future that the {@link Reaper}
 * completes once the child is reaped.
 */
public final class ChildHandle {
  private final int pid;
  private final FdChannel pidfd;
  private final CompletableFuture<Integer> exit = new CompletableFuture<>();

  private ChildHandle(int pid, FdChannel pidfd) {
    this.pid = pid;
    this.pidfd = pidfd;
  }

  /**
   * Spawns a child ({@link Spawner#spawn}) and {@linkplain #watch watches} it. If either fails,
   * {@code ours}, this process's end of the channel to the child, is closed; {@code fds} stay the
   * caller's to close.
   *
   * @param argv the command line
   * @param fds the descriptors the child gets as 3, 4, 5...
   * @param ours this process's end of the child's channel
   * @return the child
   * @throws IOException if the spawn or the watch fails
   */
  static ChildHandle spawn(List<String> argv, int[] fds, FdChannel ours) throws IOException {
    try {
      return watch(Spawner.spawn(argv, fds));
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(ours);
      throw e;
    }
  }

  /**
   * Opens a just-spawned child's pidfd and hands it to the reaper. If that fails the child is
   * killed and reaped here, so no unwatched process (or zombie) is left behind.
   *
   * @param pid the child
   * @return its handle
   * @throws IOException if the pidfd cannot be opened or watched (the child is gone then)
   */
  static ChildHandle watch(int pid) throws IOException {
    Scratch s = Scratch.get();
    int fd = Libc.pidfdOpen(s.errno, pid, 0);
    if (fd < 0) {
      IOException e = Errno.exception("pidfd_open " + pid, Native.errno(s.errno));
      killAndReap(pid);
      throw e;
    }
    ChildHandle child = new ChildHandle(pid, new FdChannel(fd, FdChannel.Kind.OTHER));
    try {
      Reaper.get().watch(pid, child.pidfd, child.exit);
    } catch (IOException | RuntimeException | Error e) {
      Fds.closeQuietly(child.pidfd);
      killAndReap(pid);
      throw e;
    }
    return child;
  }

  private static void killAndReap(int pid) {
    Scratch s = Scratch.get();
    Libc.kill(s.errno, pid, Linux.SIGKILL);
    try {
      while (IoStatus.check(Libc.waitpid(s.errno, pid, s.word, 0), s.errno, "waitpid")
          == IoStatus.INTERRUPTED) {
        // a signal interrupted the wait: wait again
      }
    } catch (IOException e) {
      // ECHILD: reaped already
    }
  }

  /**
   * The pid.
   *
   * @return the pid
   */
  public int pid() {
    return pid;
  }

  /**
   * The pidfd: readable once the child has exited; kept open until {@link #close()}.
   *
   * @return the pidfd
   */
  public FdChannel pidfd() {
    return pidfd;
  }

  /**
   * The exit status once the child is reaped: its exit code, or minus the signal that killed it.
   * Completed on the reaper thread: actions that depend on it there must be short and not block.
   *
   * @return the future exit status
   */
  public CompletableFuture<Integer> exit() {
    return exit;
  }

  /**
   * Whether the child has exited and been reaped.
   *
   * @return true once reaped
   */
  public boolean hasExited() {
    return exit.isDone();
  }

  /**
   * Sends a signal, unless the child has exited (or its pidfd is closed).
   *
   * @param sig the signal
   * @throws IOException if the signal cannot be sent
   */
  public void signal(int sig) throws IOException {
    if (exit.isDone() || !pidfd.tryAcquire()) {
      return;
    }
    try {
      Scratch s = Scratch.get();
      if (Libc.pidfdSendSignal(s.errno, pidfd.fd(), sig) != 0) {
        int errno = Native.errno(s.errno);
        if (errno != Linux.ESRCH) {
          throw Errno.exception("pidfd_send_signal", errno);
        }
      }
    } finally {
      pidfd.release();
    }
  }

  /**
   * Waits for the exit; an interrupt does not end the wait, and stays set.
   *
   * @return the exit status
   */
  public int awaitExit() {
    boolean interrupted = false;
    try {
      for (; ; ) {
        try {
          return exit.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw new IllegalStateException("the reaper never fails an exit", e);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Waits up to {@code nanos} for the exit; an interrupt ends the wait early, and stays set.
   *
   * @param nanos the longest wait
   * @return whether the child has exited
   */
  public boolean awaitExit(long nanos) {
    try {
      exit.get(nanos, TimeUnit.NANOSECONDS);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return exit.isDone();
    } catch (TimeoutException | ExecutionException e) {
      return exit.isDone();
    }
  }

  /** Closes the pidfd (the reaper holds its own use of it until the child is reaped). */
  public void close() {
    Fds.closeQuietly(pidfd);
  }

  @Override
  public String toString() {
    return "child " + pid + (exit.isDone() ? " (exit status " + exit.join() + ")" : "");
  }
}
