package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Frames;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
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
 * task: the pool behind {@link WarmLauncher}. An instance has its own lifecycle: {@link
 * WarmLauncher} creates it on first use and {@link #close()}s it; at JVM exit a shutdown hook
 * closes its sockets, and every spare exits quietly.
 *
 * <p>The spares of one set of JVM options form a lane. A lane keeps {@code target} spares, idle or
 * booting: one by default, up to {@link #MAX_SPARES} after {@link #prestart}. A warm start takes
 * the oldest idle spare of its options, or finds none and is spawned. The replacement of a spare
 * that was taken, or of a start that found none, boots in the background once warm starts of those
 * options have paused for {@link #REFILL_DELAY_MILLIS}: a spare's boot is a JVM's worth of CPU,
 * which would slow down children started meanwhile. {@link #prestart} boots at once.
 *
 * <p>A spare's side of the protocol is {@link ChildMain}'s {@code spare}: it boots, runs {@link
 * Warmup}, writes {@link #READY}; it is then given the task's descriptors ({@code SCM_RIGHTS}) and
 * the encoded task (a framed message), and answers the {@link StartHandshake} on the same socket.
 * An idle spare exits when its socket reaches end of file: when the pool closes it or this process
 * dies. Every wait here is on a lock's condition, a latch, a future, a descriptor or a timer;
 * nothing polls. An idle pool has no thread: the timer's thread ends after {@link
 * #TIMER_KEEP_ALIVE_SECONDS} without work, and a spare's boot thread ends when it is ready.
 */
final class WarmPool {
  /** The byte a spare writes on its socket once booted and warmed up. */
  static final byte READY = 'R';

  /** The most spares one set of options may keep: each is an idle JVM's memory. */
  static final int MAX_SPARES = 64;

  /** How long a spare may take to boot and warm up before it is given up. */
  private static final long BOOT_NANOS = TimeUnit.SECONDS.toNanos(120);

  /**
   * A replacement spare boots once no warm start of its options has come for this long, so that its
   * boot does not compete with children started back to back. A second: on a loaded machine, where
   * a spawn takes several hundred milliseconds, a shorter pause is found between two starts of a
   * burst, and the spare's boot slows down the next spawns more than its one fast start gains.
   */
  static final long REFILL_DELAY_MILLIS = 1000;

  /** How long the timer's thread outlives its last task. */
  static final long TIMER_KEEP_ALIVE_SECONDS = 2;

  /** How long a spare that was told to stop may take to exit before it is killed. */
  private static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);

  /** How long to wait for a killed spare to be reaped. */
  private static final long REAP_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** A spare JVM. */
  private static final class Spare {
    final ChildHandle child;
    final FdChannel ctl;

    /** Counted down when its boot thread is done. */
    final CountDownLatch settled = new CountDownLatch(1);

    Spare(ChildHandle child, FdChannel ctl) {
      this.child = child;
      this.ctl = ctl;
    }
  }

  /** The spares of one set of JVM options. Guarded by the pool's lock. */
  private static final class Lane {
    /** The ready spares, oldest first. */
    final ArrayDeque<Spare> idle = new ArrayDeque<>();

    /** How many spares are booting (or about to be spawned). */
    int booting;

    /** How many spares the lane keeps, idle or booting. */
    int target = 1;

    /** The refill's timer, while one is due. */
    ScheduledFuture<?> refill;

    /** When the refill may boot spares ({@link System#nanoTime}); later starts push it back. */
    long refillAt;

    int missing() {
      return Math.max(0, target - idle.size() - booting);
    }
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Map<List<String>, Lane> lanes = new HashMap<>();
  private final Set<Spare> booting = new HashSet<>();
  private boolean closed;
  private final ScheduledThreadPoolExecutor timer;
  private final Thread atExit;

  WarmPool() {
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
    timer.setKeepAliveTime(TIMER_KEEP_ALIVE_SECONDS, TimeUnit.SECONDS);
    timer.allowCoreThreadTimeOut(true);
    atExit = new Thread(this::abandon, "jpipe-warm-pool-exit");
    try {
      Runtime.getRuntime().addShutdownHook(atExit);
    } catch (IllegalStateException e) {
      // a warm start while the JVM exits: its spares go with it anyway
    }
  }

  private Lane lane(List<String> key) {
    return lanes.computeIfAbsent(key, k -> new Lane());
  }

  // ---------------------------------------------------------------- taking a spare

  /**
   * Gives a task to an idle spare of its options, if there is one.
   *
   * @param task the task
   * @param startNanos the start timeout, which bounds the hand-over
   * @return the child, or null if no spare was ready (then spawn it)
   */
  Launcher.Launched take(Launcher.Task task, long startNanos) {
    List<String> key = task.jvmOptions();
    long deadline = System.nanoTime() + startNanos;
    try {
      for (; ; ) {
        Spare spare;
        lock.lock();
        try {
          spare = closed ? null : lane(key).idle.pollFirst();
        } finally {
          lock.unlock();
        }
        if (spare == null) {
          return null;
        }
        if (!spare.child.hasExited() && handOver(spare, task, deadline)) {
          Connection status =
              Access.connections().newConnection(spare.ctl, true, true, Codec.javaSerialization());
          return new Launcher.Launched(spare.child, status, true);
        }
        // It died, or stopped reading: it must not run anything now. It has not answered, so it
        // has run nothing of the task, which goes to the next spare or is spawned.
        retire(spare, 0);
      }
    } finally {
      refillAfter(key, TimeUnit.MILLISECONDS.toNanos(REFILL_DELAY_MILLIS));
    }
  }

  /** Sends the task's descriptors, then the task; false if the spare does not take them. */
  private static boolean handOver(Spare spare, Launcher.Task task, long deadline) {
    FdChannel ctl = spare.ctl;
    try {
      ctl.acquire();
      try {
        FdPassing.send(ctl, (byte) 'J', task.fds());
        Frames.writeMessage(ctl, Scratch.get(), MemorySegment.ofArray(task.bootstrap()), deadline);
        return true;
      } finally {
        ctl.release();
      }
    } catch (IOException e) {
      return false;
    }
  }

  // ---------------------------------------------------------------- refills

  /**
   * Keeps at least {@code spares} spares for {@code key} from now on, boots the missing ones now,
   * and waits up to {@code nanos} until that many are ready.
   *
   * @return whether {@code spares} ready spares are waiting
   */
  boolean prestart(List<String> key, int spares, long nanos) {
    if (spares < 1 || spares > MAX_SPARES) {
      throw new IllegalArgumentException(
          "spares must be between 1 and " + MAX_SPARES + ": " + spares);
    }
    lock.lock();
    try {
      Lane lane = lane(key);
      lane.target = Math.max(lane.target, spares);
    } finally {
      lock.unlock();
    }
    refillAfter(key, 0);
    long deadline = System.nanoTime() + Math.max(0, nanos);
    lock.lock();
    try {
      Lane lane = lane(key);
      while (lane.idle.size() < spares && !closed) {
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
      return lane.idle.size() >= spares;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Boots the missing spares of {@code key} once {@code delayNanos} have passed with no call here
   * for it (unless none is missing by then).
   */
  private void refillAfter(List<String> key, long delayNanos) {
    lock.lock();
    try {
      Lane lane = lane(key);
      if (closed || lane.missing() == 0) {
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

  /** The refill's timer: boots the missing spares, or waits on if a warm start came meanwhile. */
  private void refill(List<String> key) {
    Lane lane;
    int boot;
    lock.lock();
    try {
      lane = lane(key);
      lane.refill = null;
      if (closed) {
        return;
      }
      long left = lane.refillAt - System.nanoTime();
      if (left > 0) {
        lane.refill = timer.schedule(() -> refill(key), left, TimeUnit.NANOSECONDS);
        return;
      }
      boot = lane.missing();
      lane.booting += boot; // reserved: a second refill does not boot them again
    } catch (RejectedExecutionException e) {
      return; // closing
    } finally {
      lock.unlock();
    }
    for (int i = 0; i < boot; i++) {
      try {
        spawnSpare(key, lane);
      } catch (IOException | RuntimeException e) {
        booted(lane, null, false);
        System.err.println("jpipe: could not start a warm spare JVM: " + e);
      }
    }
  }

  // ---------------------------------------------------------------- a spare's life

  /** Spawns a spare, and a thread that waits for it to be ready. Runs on the timer's thread. */
  private void spawnSpare(List<String> key, Lane lane) throws IOException {
    int[] pair = Fds.socketpair();
    FdChannel ctl = new FdChannel(pair[0], FdChannel.Kind.SOCKET);
    ChildHandle child;
    try {
      child =
          ChildHandle.spawn(
              ChildJvm.standard().command(key, "spare", "3"), new int[] {pair[1]}, ctl);
    } finally {
      Fds.closeQuietly(pair[1]);
    }
    Spare spare = new Spare(child, ctl);
    // Only acts while the spare is idle: once given a task, it is the child's exit.
    child.exit().thenRun(() -> exitedIdle(lane, spare));
    boolean open;
    lock.lock();
    try {
      open = !closed;
      if (open) {
        booting.add(spare); // close() stops it from here on
      }
    } finally {
      lock.unlock();
    }
    if (!open) {
      retire(spare, GRACE_NANOS);
      return;
    }
    Thread t = new Thread(() -> boot(lane, spare), "jpipe-warm-boot-" + child.pid());
    t.setDaemon(true);
    t.start();
  }

  /** A spare's boot thread: waits for its ready byte, then makes it an idle spare of its lane. */
  private void boot(Lane lane, Spare spare) {
    try {
      if (!booted(lane, spare, awaitReadyByte(spare, System.nanoTime() + BOOT_NANOS))) {
        retire(spare, GRACE_NANOS); // it died, hung, or is not needed any more
      }
    } finally {
      spare.settled.countDown();
    }
  }

  /**
   * A boot is over: the spare (null if it could not be spawned) becomes idle if it is ready and the
   * pool open.
   *
   * @return whether it became idle
   */
  private boolean booted(Lane lane, Spare spare, boolean ready) {
    lock.lock();
    try {
      // Once closed, the lanes count nothing, and close() has taken every booting spare.
      boolean mine = spare == null ? !closed : booting.remove(spare);
      if (!mine) {
        return false;
      }
      lane.booting--;
      boolean idle = spare != null && ready && !closed;
      if (idle) {
        lane.idle.addLast(spare);
      }
      changed.signalAll();
      return idle;
    } finally {
      lock.unlock();
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

  /** On the reaper thread: a spare exited; if it was idle, it leaves its lane. */
  private void exitedIdle(Lane lane, Spare spare) {
    boolean wasIdle;
    lock.lock();
    try {
      wasIdle = lane.idle.remove(spare);
    } finally {
      lock.unlock();
    }
    if (wasIdle) {
      Fds.closeQuietly(spare.ctl);
      spare.child.close();
    }
  }

  /**
   * Stops a spare: end of file on its socket (an idle or booting spare exits quietly), then SIGKILL
   * if it has not exited after {@code graceNanos}; waits for its exit. Safe to call twice.
   */
  private static void retire(Spare s, long graceNanos) {
    Fds.closeQuietly(s.ctl);
    if (!s.child.awaitExit(graceNanos)) {
      try {
        s.child.signal(Linux.SIGKILL);
      } catch (IOException e) {
        // it cannot be signalled: it is gone
      }
      s.child.awaitExit(REAP_NANOS);
    }
    s.child.close();
  }

  // ---------------------------------------------------------------- the end

  /** Marks the pool closed; returns the spares it held, idle or booting. */
  private List<Spare> shut() {
    List<Spare> stop = new ArrayList<>();
    lock.lock();
    try {
      if (closed) {
        return stop;
      }
      closed = true;
      for (Lane lane : lanes.values()) {
        stop.addAll(lane.idle);
        lane.idle.clear();
        lane.booting = 0;
      }
      stop.addAll(booting);
      booting.clear();
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    return stop;
  }

  /** Stops every spare, idle or booting, and every refill; waits until they are gone. */
  void close() {
    try {
      Runtime.getRuntime().removeShutdownHook(atExit);
    } catch (IllegalStateException e) {
      // the JVM is exiting: the hook runs, or has run
    }
    List<Spare> stop = shut();
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
      try {
        s.settled.await(REAP_NANOS, TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
  }

  /**
   * At JVM exit: closes every spare's socket and waits for nothing. An idle spare sees end of file
   * and a booting one a broken pipe when it says it is ready: each exits at once, quietly, as when
   * this process dies.
   */
  private void abandon() {
    timer.shutdownNow();
    for (Spare s : shut()) {
      Fds.closeQuietly(s.ctl);
    }
  }
}
