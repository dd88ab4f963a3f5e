package io.jpipe.internal.spawn;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.PollSet;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Reaps every child the moment it exits, so there is never a zombie, and completes its exit future
 * with its exit status.
 *
 * <p>One daemon thread polls the children's pidfds (and an eventfd that announces new children);
 * when a pidfd turns readable it calls {@code waitpid}. It holds a use count on each pidfd until
 * the child is reaped, so the pidfd (which is also the public sentinel) is never closed under it.
 * The JDK's own {@code ProcessHandle.onExit} does not reap processes it did not start.
 */
final class Reaper {
  /** A child being watched. */
  private record Watched(int pid, FdChannel pidfd, CompletableFuture<Integer> exit) {}

  private static Reaper instance;

  private final int wakeFd;
  private final ConcurrentLinkedQueue<Watched> added = new ConcurrentLinkedQueue<>();

  private Reaper(int wakeFd) {
    this.wakeFd = wakeFd;
  }

  /**
   * The process's reaper, started on first use.
   *
   * @return the reaper
   * @throws IOException if its eventfd cannot be created
   */
  static synchronized Reaper get() throws IOException {
    if (instance == null) {
      Scratch s = Scratch.get();
      int efd = Libc.eventfd(s.errno, 0, Linux.EFD_CLOEXEC | Linux.EFD_NONBLOCK);
      if (efd < 0) {
        throw Errno.exception("eventfd", Native.errno(s.errno));
      }
      Reaper r = new Reaper(efd);
      Thread t = new Thread(r::run, "jpipe-reaper");
      t.setDaemon(true);
      t.start();
      instance = r;
    }
    return instance;
  }

  /**
   * Watches a child until it exits, then reaps it and completes {@code exit} with its status: the
   * exit code, or minus the signal that killed it. Actions that depend on {@code exit} run on the
   * reaper thread: they must be short and must not block.
   *
   * @param pid the child
   * @param pidfd its pidfd (kept open while watched)
   * @param exit completed once, on the reaper thread
   * @throws IOException if the pidfd is already closed
   */
  void watch(int pid, FdChannel pidfd, CompletableFuture<Integer> exit) throws IOException {
    pidfd.acquire();
    added.add(new Watched(pid, pidfd, exit));
    Scratch s = Scratch.get();
    s.word.set(ValueLayout.JAVA_LONG, 0, 1L);
    Libc.write(s.errno, wakeFd, s.word, 8);
  }

  private void run() {
    List<Watched> watching = new ArrayList<>();
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment status = arena.allocate(ValueLayout.JAVA_INT);
      PollSet set = new PollSet(arena, 64);
      for (; ; ) {
        for (Watched w; (w = added.poll()) != null; ) {
          watching.add(w);
        }
        set.clear();
        set.add(wakeFd, Linux.POLLIN);
        for (Watched w : watching) {
          set.add(w.pidfd().fd(), Linux.POLLIN);
        }
        try {
          set.poll(s, FdChannel.NO_DEADLINE);
        } catch (IOException e) {
          pause(); // ENOMEM, say: try again soon rather than spin
          continue;
        }
        if (set.revents(0) != 0) {
          Libc.read(s.errno, wakeFd, s.word, 8); // drain; non-blocking
        }
        for (int i = watching.size() - 1; i >= 0; i--) {
          if (set.revents(i + 1) == 0) {
            continue;
          }
          Watched w = watching.get(i);
          int got = Libc.waitpid(s.errno, w.pid(), status, Linux.WNOHANG);
          if (got == 0) {
            continue; // readable but not yet reapable: poll again
          }
          int code;
          if (got == w.pid()) {
            int st = status.get(ValueLayout.JAVA_INT, 0);
            code = Linux.exited(st) ? Linux.exitStatus(st) : -Linux.termSignal(st);
          } else {
            code = Integer.MIN_VALUE; // reaped by someone else (ECHILD): status unknown
          }
          watching.remove(i);
          w.pidfd().release();
          try {
            w.exit().complete(code); // a dependent's exception stays in its own future
          } catch (Throwable t) {
            // An Error out of a dependent must not stop every other child from being reaped.
            System.err.println("jpipe: an exit action failed: " + t);
          }
        }
      }
    }
  }

  private static void pause() {
    try {
      Thread.sleep(10);
    } catch (InterruptedException e) {
      // the reaper is never interrupted on purpose; carry on
    }
  }
}
