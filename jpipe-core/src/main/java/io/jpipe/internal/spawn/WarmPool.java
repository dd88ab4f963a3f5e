package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessStartException;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Frames;
import io.jpipe.internal.io.Scratch;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Spare child JVMs, booted and warmed up ahead of time, each waiting on a private socketpair for a
 * task (the warm start method, CPython's {@code forkserver} in spirit: the cost of booting a JVM is
 * paid before {@code start()}, not in it).
 *
 * <p>One spare is kept per set of JVM options; taking one starts its replacement in the background.
 * An idle spare exits when its socket reaches end of file: when this process closes it ({@link
 * #shutdown}) or dies. Spares are reaped like every child.
 */
public final class WarmPool {
  private WarmPool() {}

  /** The byte a spare writes on its socket once booted and warmed up. */
  static final byte READY = 'R';

  /** How long a spare may take to boot and warm up before it is given up. */
  private static final long BOOT_NANOS = TimeUnit.SECONDS.toNanos(120);

  /** An idle spare: booted, waiting on {@code ctl}. */
  private record Spare(int pid, FdChannel pidfd, ExitWatch exit, FdChannel ctl) {}

  // Guarded by WarmPool.class.
  private static final Map<List<String>, Deque<Spare>> IDLE = new HashMap<>();
  private static final List<List<String>> REFILLING = new ArrayList<>();
  private static final List<Spare> BOOTING = new ArrayList<>();
  private static boolean shutdown;
  private static int epoch; // bumped by shutdown: refills scheduled before it are dropped

  private static final ScheduledExecutorService REFILL =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "jpipe-warm-pool");
            t.setDaemon(true);
            return t;
          });

  /**
   * A replacement spare boots this long after a spare was taken, so that its boot (a JVM's worth of
   * CPU) does not compete with the new child's first moments.
   */
  private static final long REFILL_DELAY_MILLIS = 200;

  /**
   * Makes sure a spare with these options is booting or waiting; returns at once.
   *
   * @param jvmOptions the options children will use
   */
  public static void prestart(List<String> jvmOptions) {
    List<String> key = List.copyOf(jvmOptions);
    synchronized (WarmPool.class) {
      shutdown = false;
      if (!IDLE.getOrDefault(key, new ArrayDeque<>()).isEmpty() || REFILLING.contains(key)) {
        return;
      }
      REFILLING.add(key);
    }
    REFILL.execute(() -> refill(key));
  }

  /** As {@link #prestart}, after {@link #REFILL_DELAY_MILLIS} (unless shut down meanwhile). */
  private static void prestartLater(List<String> key) {
    int scheduledIn;
    synchronized (WarmPool.class) {
      scheduledIn = epoch;
    }
    REFILL.schedule(
        () -> {
          synchronized (WarmPool.class) {
            if (epoch != scheduledIn) {
              return;
            }
          }
          prestart(key);
        },
        REFILL_DELAY_MILLIS,
        TimeUnit.MILLISECONDS);
  }

  private static void refill(List<String> key) {
    try {
      Spare spare = spawnSpare(key);
      synchronized (WarmPool.class) {
        BOOTING.add(spare);
      }
      boolean ready = awaitReadyByte(spare, System.nanoTime() + BOOT_NANOS);
      synchronized (WarmPool.class) {
        BOOTING.remove(spare);
      }
      if (!ready) {
        synchronized (WarmPool.class) {
          REFILLING.remove(key);
        }
        retire(spare);
        return;
      }
      boolean keep;
      synchronized (WarmPool.class) {
        REFILLING.remove(key);
        keep = !shutdown;
        if (keep) {
          IDLE.computeIfAbsent(key, k -> new ArrayDeque<>()).add(spare);
        }
      }
      if (!keep) {
        retire(spare);
      }
    } catch (IOException | RuntimeException e) {
      synchronized (WarmPool.class) {
        REFILLING.remove(key);
      }
      System.err.println("jpipe: could not start a warm spare JVM: " + e);
    }
  }

  /**
   * Waits for a spare's ready byte.
   *
   * @return true if it came; false on end of file, error or timeout
   */
  private static boolean awaitReadyByte(Spare spare, long deadline) {
    FdChannel ctl = spare.ctl();
    try {
      ctl.acquire();
      try {
        Scratch s = Scratch.get();
        return Frames.readExactly(ctl, s, s.wordAddress, 1, deadline)
            && s.word.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) == READY;
      } finally {
        ctl.release();
      }
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Waits until a spare with these options is ready (starting one if none is), up to {@code nanos}.
   *
   * @param jvmOptions the options
   * @param nanos the longest wait
   * @return whether a ready spare is waiting
   */
  public static boolean awaitSpare(List<String> jvmOptions, long nanos) {
    List<String> key = List.copyOf(jvmOptions);
    prestart(key);
    return waitUntil(
        () -> {
          synchronized (WarmPool.class) {
            return !IDLE.getOrDefault(key, new ArrayDeque<>()).isEmpty();
          }
        },
        nanos);
  }

  /**
   * Gives a task to a spare: a ready one from the pool, or one started now (then this waits, up to
   * {@code startNanos}, for it to be ready).
   */
  static ChildLauncher.Launched assign(
      List<String> jvmOptions, byte[] bootstrap, int[] fds, long startNanos) throws IOException {
    List<String> key = List.copyOf(jvmOptions);
    long deadline = System.nanoTime() + startNanos;
    Spare spare = take(key, deadline);
    prestartLater(key);
    FdChannel ctl = spare.ctl();
    try {
      ctl.acquire();
      try {
        FdPassing.send(ctl, (byte) 'J', fds);
        Frames.writeMessage(ctl, Scratch.get(), MemorySegment.ofArray(bootstrap), deadline);
      } finally {
        ctl.release();
      }
    } catch (IOException e) {
      // The spare died under us, or stopped reading: it must not run anything now.
      retire(spare);
      throw new ProcessStartException(
          "the child JVM (a warm spare, pid "
              + spare.pid()
              + ") did not take its task ("
              + e
              + "); it was stopped",
          spare.exit().code());
    }
    Connection status =
        Access.connections().newConnection(ctl, true, true, Codec.javaSerialization());
    return new ChildLauncher.Launched(spare.pid(), spare.pidfd(), spare.exit(), status);
  }

  private static Spare take(List<String> key, long deadline) throws IOException {
    synchronized (WarmPool.class) {
      Deque<Spare> idle = IDLE.getOrDefault(key, new ArrayDeque<>());
      for (Spare s; (s = idle.poll()) != null; ) {
        if (!s.exit().hasExited()) {
          return s;
        }
        closeChannels(s);
      }
    }
    Spare fresh = spawnSpare(key);
    if (!awaitReadyByte(fresh, deadline)) {
      boolean late = System.nanoTime() - deadline >= 0;
      retire(fresh, late ? 0 : TimeUnit.SECONDS.toNanos(2)); // waits for its exit
      String who = "the child JVM (a new warm spare, pid " + fresh.pid() + ")";
      throw late
          ? new ProcessStartException(
              who + " did not start within the start timeout; killed it", -9)
          : new ProcessStartException(
              who
                  + " exited with code "
                  + fresh.exit().code()
                  + " before running its target (its stderr says why)",
              fresh.exit().code());
    }
    return fresh;
  }

  private static Spare spawnSpare(List<String> key) throws IOException {
    int[] pair = Fds.socketpair();
    int pid;
    try {
      pid = Spawner.spawn(ChildLauncher.command(key, "spare", "3"), new int[] {pair[1]});
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(pair[0]);
      throw e;
    } finally {
      Fds.closeQuietly(pair[1]);
    }
    FdChannel ctl = new FdChannel(pair[0], FdChannel.Kind.SOCKET);
    ExitWatch exit = new ExitWatch();
    FdChannel pidfd;
    try {
      pidfd = ChildLauncher.watch(pid, exit);
    } catch (IOException e) {
      Fds.closeQuietly(ctl);
      throw e;
    }
    Spare spare = new Spare(pid, pidfd, exit, ctl);
    exit.listen(code -> dropIfIdle(key, spare)); // replaced when the spare gets a task
    return spare;
  }

  private static void dropIfIdle(List<String> key, Spare spare) {
    boolean removed;
    synchronized (WarmPool.class) {
      Deque<Spare> idle = IDLE.get(key);
      removed = idle != null && idle.remove(spare);
    }
    if (removed) {
      closeChannels(spare);
    }
  }

  private static void closeChannels(Spare s) {
    Fds.closeQuietly(s.ctl());
    Fds.closeQuietly(s.pidfd());
  }

  /** Stops a spare: end of file on its socket, then SIGKILL if it is stuck (still booting). */
  private static void retire(Spare s) {
    retire(s, TimeUnit.SECONDS.toNanos(2));
  }

  /** As {@link #retire(Spare)}, killing it after {@code graceNanos}. */
  private static void retire(Spare s, long graceNanos) {
    Fds.closeQuietly(s.ctl()); // end of file: an idle spare exits
    if (!awaitExit(s, graceNanos) && s.pidfd().tryAcquire()) {
      try {
        io.jpipe.internal.posix.Libc.pidfdSendSignal(
            Scratch.get().errno, s.pidfd().fd(), io.jpipe.internal.posix.Linux.SIGKILL);
      } finally {
        s.pidfd().release();
      }
      awaitExit(s, TimeUnit.SECONDS.toNanos(10));
    }
    Fds.closeQuietly(s.pidfd());
  }

  private static boolean awaitExit(Spare s, long nanos) {
    return waitUntil(s.exit()::hasExited, nanos);
  }

  /** Checks {@code done} every 5 ms until it holds or {@code nanos} pass (or an interrupt). */
  private static boolean waitUntil(java.util.function.BooleanSupplier done, long nanos) {
    long deadline = System.nanoTime() + nanos;
    while (!done.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /**
   * Stops every idle spare and waits until they have exited (up to 10 s each); spares booting now
   * are stopped when ready. Warm starts later start a new pool.
   */
  public static void shutdown() {
    List<Spare> all = new ArrayList<>();
    synchronized (WarmPool.class) {
      shutdown = true;
      epoch++;
      IDLE.values().forEach(all::addAll);
      IDLE.clear();
      all.addAll(BOOTING); // closing its socket ends the refill's wait for it
    }
    all.forEach(WarmPool::retire);
    all.clear();
    try {
      // let a refill in flight (or scheduled) finish
      REFILL
          .schedule(() -> {}, REFILL_DELAY_MILLIS, TimeUnit.MILLISECONDS)
          .get(60, TimeUnit.SECONDS);
      REFILL.submit(() -> {}).get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      // best effort
    }
    synchronized (WarmPool.class) {
      IDLE.values().forEach(all::addAll);
      IDLE.clear();
    }
    all.forEach(WarmPool::retire);
  }
}
