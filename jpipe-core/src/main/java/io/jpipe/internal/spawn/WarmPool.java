package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Frames;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Spare child JVMs, booted and warmed up ahead of time, each waiting on a private socketpair for a
 * task (the warm start method, CPython's {@code forkserver} in spirit: the cost of booting a JVM is
 * paid before {@code start()}, not in it).
 *
 * <p>A warm start takes the ready spare of its JVM options if there is one. If there is none it
 * does not wait for one (a spare's boot and warm-up take several times a spawn): {@link #assign}
 * says so and the child is spawned, as {@code SPAWN} does. So a warm start is never slower than a
 * spawn.
 *
 * <p>One spare is kept per set of options. The replacement of a spare that was taken, or of a start
 * that found none, boots in the background once warm starts of those options have paused for {@link
 * #REFILL_DELAY_MILLIS}: a spare's boot is a JVM's worth of CPU, which would slow down children
 * started meanwhile. {@link #awaitSpare} boots one at once.
 *
 * <p>An idle spare exits when its socket reaches end of file: when this process closes it ({@link
 * #shutdown}) or dies. Spares are reaped like every child. Every wait here is on a lock's
 * condition, a latch, a descriptor or a timer; nothing polls.
 */
public final class WarmPool {
  /** The byte a spare writes on its socket once booted and warmed up. */
  static final byte READY = 'R';

  /** How long a spare may take to boot and warm up before it is given up. */
  private static final long BOOT_NANOS = TimeUnit.SECONDS.toNanos(120);

  /**
   * A replacement spare boots once no warm start of its options has come for this long, so that its
   * boot does not compete with children started back to back. A second: on a loaded machine, where
   * a spawn takes several hundred milliseconds, a shorter pause is found between two starts of a
   * burst, and the spare's boot slows down the next spawns more than its one fast start gains.
   */
  static final long REFILL_DELAY_MILLIS = 1000;

  /** How long a spare that was told to stop may take to exit before it is killed. */
  private static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);

  /** How long to wait for a killed spare to be reaped. */
  private static final long REAP_NANOS = TimeUnit.SECONDS.toNanos(10);

  // The pool that warm starts use; a new one after shutdown(). Guarded by WarmPool.class.
  private static WarmPool shared;

  /** A spare JVM. */
  private static final class Spare {
    final int pid;
    final FdChannel pidfd;
    final ExitWatch exit;
    final FdChannel ctl;

    /** Counted down when the JVM has exited (while no task was given to it). */
    final CountDownLatch exited = new CountDownLatch(1);

    /** Counted down when its boot thread is done. */
    final CountDownLatch settled = new CountDownLatch(1);

    Spare(int pid, FdChannel pidfd, ExitWatch exit, FdChannel ctl) {
      this.pid = pid;
      this.pidfd = pidfd;
      this.exit = exit;
      this.ctl = ctl;
    }
  }

  /** The spare of one set of JVM options. Guarded by the pool's lock. */
  private static final class Lane {
    /** The ready spare, or null. */
    Spare idle;

    /** The spare booting, or null. */
    Spare booting;

    /** The refill's timer, while one is due. */
    ScheduledFuture<?> refill;

    /** When the refill may boot a spare ({@link System#nanoTime}); later starts push it back. */
    long refillAt;
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Map<List<String>, Lane> lanes = new HashMap<>();
  private final Set<Spare> booting = new HashSet<>();
  private boolean closed;
  private final ScheduledThreadPoolExecutor timer;

  private WarmPool() {
    timer =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "jpipe-warm-pool");
              t.setDaemon(true);
              return t;
            });
    timer.setRemoveOnCancelPolicy(true);
    timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
  }

  private static synchronized WarmPool shared() {
    if (shared == null) {
      shared = new WarmPool();
    }
    return shared;
  }

  // ---------------------------------------------------------------- the entry points

  /**
   * Makes sure a spare with these options is booting or waiting; returns at once.
   *
   * @param jvmOptions the options children will use
   */
  public static void prestart(List<String> jvmOptions) {
    shared().refillAfter(List.copyOf(jvmOptions), 0);
  }

  /**
   * Waits until a spare with these options is ready (booting one now if none is), up to {@code
   * nanos}.
   *
   * @param jvmOptions the options
   * @param nanos the longest wait
   * @return whether a ready spare is waiting
   */
  public static boolean awaitSpare(List<String> jvmOptions, long nanos) {
    return shared().awaitIdle(List.copyOf(jvmOptions), nanos);
  }

  /**
   * Gives a task to the ready spare of these options, if there is one.
   *
   * @param jvmOptions the child's JVM options
   * @param bootstrap the encoded task
   * @param fds the descriptors it inherits
   * @param startNanos the start timeout, which bounds the hand-over
   * @return the child, or null if no spare was ready (then spawn it)
   */
  static ChildLauncher.Launched assign(
      List<String> jvmOptions, byte[] bootstrap, int[] fds, long startNanos) {
    return shared().give(List.copyOf(jvmOptions), bootstrap, fds, startNanos);
  }

  /**
   * Stops every spare, idle or booting, and waits until they have exited (up to about 10 s each).
   * Warm starts later use a new pool.
   */
  public static void shutdown() {
    WarmPool pool;
    synchronized (WarmPool.class) {
      pool = shared;
      shared = null;
    }
    if (pool != null) {
      pool.close();
    }
  }

  // ---------------------------------------------------------------- taking a spare

  private Lane lane(List<String> key) {
    return lanes.computeIfAbsent(key, k -> new Lane());
  }

  private ChildLauncher.Launched give(
      List<String> key, byte[] bootstrap, int[] fds, long startNanos) {
    long deadline = System.nanoTime() + startNanos;
    Spare spare;
    lock.lock();
    try {
      spare = closed ? null : lane(key).idle;
      if (spare != null) {
        lane(key).idle = null;
      }
    } finally {
      lock.unlock();
    }
    refillAfter(key, TimeUnit.MILLISECONDS.toNanos(REFILL_DELAY_MILLIS));
    if (spare == null || spare.exit.hasExited()) {
      if (spare != null) {
        retire(spare, 0);
      }
      return null;
    }
    FdChannel ctl = spare.ctl;
    try {
      ctl.acquire();
      try {
        FdPassing.send(ctl, (byte) 'J', fds);
        Frames.writeMessage(ctl, Scratch.get(), MemorySegment.ofArray(bootstrap), deadline);
      } finally {
        ctl.release();
      }
    } catch (IOException e) {
      // The spare died under us, or stopped reading: it must not run anything now. It has not
      // answered, so it has run nothing of the task, which is spawned instead.
      retire(spare, 0);
      return null;
    }
    Connection status =
        Access.connections().newConnection(ctl, true, true, Codec.javaSerialization());
    return new ChildLauncher.Launched(spare.pid, spare.pidfd, spare.exit, status, true);
  }

  // ---------------------------------------------------------------- refills

  /**
   * Boots a spare for {@code key} once {@code delayNanos} have passed with no call here for it
   * (unless one is idle or booting by then).
   */
  private void refillAfter(List<String> key, long delayNanos) {
    lock.lock();
    try {
      Lane lane = lane(key);
      if (closed || lane.idle != null || lane.booting != null) {
        return;
      }
      lane.refillAt = System.nanoTime() + delayNanos;
      if (lane.refill != null && lane.refill.getDelay(TimeUnit.NANOSECONDS) <= delayNanos) {
        return; // it fires first, and waits for the rest
      }
      if (lane.refill != null) {
        lane.refill.cancel(false);
      }
      try {
        lane.refill = timer.schedule(() -> refill(key), delayNanos, TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException e) {
        lane.refill = null; // closing
      }
    } finally {
      lock.unlock();
    }
  }

  /** The refill's timer: boots a spare, or waits on if a warm start came meanwhile. */
  private void refill(List<String> key) {
    Lane lane;
    lock.lock();
    try {
      lane = lane(key);
      lane.refill = null;
      if (closed || lane.idle != null || lane.booting != null) {
        return;
      }
      long left = lane.refillAt - System.nanoTime();
      if (left > 0) {
        lane.refill = timer.schedule(() -> refill(key), left, TimeUnit.NANOSECONDS);
        return;
      }
    } catch (RejectedExecutionException e) {
      return; // closing
    } finally {
      lock.unlock();
    }
    try {
      spawnSpare(key, lane);
    } catch (IOException | RuntimeException e) {
      System.err.println("jpipe: could not start a warm spare JVM: " + e);
    }
  }

  private boolean awaitIdle(List<String> key, long nanos) {
    refillAfter(key, 0);
    long deadline = System.nanoTime() + nanos;
    lock.lock();
    try {
      Lane lane = lane(key);
      while (lane.idle == null && !closed) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        try {
          changed.awaitNanos(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return lane.idle != null;
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- a spare's life

  /** Spawns a spare, and a thread that waits for it to be ready. Runs on the timer's thread. */
  private void spawnSpare(List<String> key, Lane lane) throws IOException {
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
    exit.listen(code -> exited(lane, spare)); // replaced when the spare gets a task
    boolean open;
    lock.lock();
    try {
      open = !closed;
      if (open) {
        lane.booting = spare;
        booting.add(spare);
      }
    } finally {
      lock.unlock();
    }
    if (!open) {
      retire(spare, GRACE_NANOS);
      return;
    }
    Thread t = new Thread(() -> boot(lane, spare), "jpipe-warm-boot-" + pid);
    t.setDaemon(true);
    t.start();
  }

  /** A spare's boot thread: waits for its ready byte, then makes it the lane's idle spare. */
  private void boot(Lane lane, Spare spare) {
    try {
      boolean ready = awaitReadyByte(spare, System.nanoTime() + BOOT_NANOS);
      boolean idle = false;
      lock.lock();
      try {
        if (booting.remove(spare)) { // else close() took it
          lane.booting = null;
          idle = ready && !closed;
          if (idle) {
            lane.idle = spare;
          }
        }
        changed.signalAll();
      } finally {
        lock.unlock();
      }
      if (!idle) {
        retire(spare, GRACE_NANOS); // it died, hung, or is not needed any more
      }
    } finally {
      spare.settled.countDown();
    }
  }

  /**
   * Waits for a spare's ready byte.
   *
   * @return true if it came; false on end of file, error, close or timeout
   */
  private static boolean awaitReadyByte(Spare spare, long deadline) {
    FdChannel ctl = spare.ctl;
    try {
      ctl.acquire();
      try {
        Scratch s = Scratch.get();
        return Frames.readExactly(ctl, s, s.wordAddress, 1, deadline)
            && s.word.get(ValueLayout.JAVA_BYTE, 0) == READY;
      } finally {
        ctl.release();
      }
    } catch (IOException e) {
      return false;
    }
  }

  /** The reaper's news of a spare's exit before it was given a task. */
  private void exited(Lane lane, Spare spare) {
    spare.exited.countDown();
    boolean wasIdle;
    lock.lock();
    try {
      wasIdle = lane.idle == spare;
      if (wasIdle) {
        lane.idle = null;
      }
    } finally {
      lock.unlock();
    }
    if (wasIdle) {
      Fds.closeQuietly(spare.ctl);
      Fds.closeQuietly(spare.pidfd);
    }
  }

  /**
   * Stops a spare: end of file on its socket (an idle or booting spare exits quietly), then SIGKILL
   * if it has not exited after {@code graceNanos}; waits for its exit. Safe to call twice.
   */
  private static void retire(Spare s, long graceNanos) {
    Fds.closeQuietly(s.ctl);
    if (!await(s.exited, graceNanos) && s.pidfd.tryAcquire()) {
      try {
        Libc.pidfdSendSignal(Scratch.get().errno, s.pidfd.fd(), Linux.SIGKILL);
      } finally {
        s.pidfd.release();
      }
      await(s.exited, REAP_NANOS);
    }
    Fds.closeQuietly(s.pidfd);
  }

  /** Waits for a latch; an interrupt ends the wait early (and stays set). */
  private static boolean await(CountDownLatch latch, long nanos) {
    try {
      return latch.await(nanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Stops every spare, idle or booting, and every refill; waits until they are gone. */
  private void close() {
    List<Spare> stop = new ArrayList<>();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      for (Lane lane : lanes.values()) {
        if (lane.idle != null) {
          stop.add(lane.idle);
          lane.idle = null;
        }
        lane.booting = null;
      }
      stop.addAll(booting);
      booting.clear();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    timer.shutdown(); // drops refills not due yet; one spawning now sees the pool closed
    try {
      timer.awaitTermination(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Spare s : stop) {
      retire(s, GRACE_NANOS);
    }
    for (Spare s : stop) {
      await(s.settled, REAP_NANOS);
    }
  }
}
