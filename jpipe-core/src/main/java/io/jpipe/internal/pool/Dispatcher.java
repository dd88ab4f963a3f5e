package io.jpipe.internal.pool;

import io.jpipe.ChildProcess;
import io.jpipe.Pipe;
import io.jpipe.ProcessPool;
import io.jpipe.SharedLong;
import io.jpipe.WorkerDiedException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * The engine of a {@link ProcessPool}: the queue of tasks, one <em>slot</em> thread per worker that
 * starts the worker, feeds it tasks (up to {@value #WINDOW} at a time, several per message), and,
 * when the worker ends, settles its tasks and starts its replacement. A worker's reader thread
 * ({@link Worker}) completes the futures.
 *
 * <p>When a worker dies, the task it was running fails with {@link WorkerDiedException}: the worker
 * writes the id of each task it starts in a shared word ({@link Worker#current}), so a worker
 * killed between two tasks fails none. The worker sets that word <em>before</em> it decodes the
 * task's function and argument, so a task whose decoding kills the worker is the one that fails,
 * not the next worker it would otherwise be sent to again. The others it held go back to the head
 * of the queue, in order.
 *
 * <p>No task can make the pool replace workers forever: a death while a task runs fails that task
 * (it is not sent again), and a requeued task goes first to the next worker, so any worker that
 * answers a task before it dies has made progress. Only workers that die between tasks without
 * answering any (something outside the tasks kills them, such as a thread the initializer started)
 * could cycle: {@value #BARREN_DEATHS_LIMIT} such deaths in a row, with no answer from any worker
 * in between, break the pool.
 */
public final class Dispatcher {
  /** How many tasks a worker is sent ahead of their results. */
  static final int WINDOW = 32;

  /**
   * How few tasks a worker holds before its slot is woken to send it more, when the queue has some:
   * the slot then sends a batch, not a task per answer.
   */
  static final int REFILL = WINDOW / 2;

  /**
   * How many workers in a row may die before running their initializer, or fail to start, before
   * the pool breaks.
   */
  static final int EARLY_DEATHS_LIMIT = 3;

  /**
   * How many workers in a row may die after their initializer, between tasks and before answering
   * any, before the pool breaks.
   */
  static final int BARREN_DEATHS_LIMIT = 10;

  /**
   * The most warm spares a pool asks for ({@link ChildProcess#prestartWarm(int, Duration,
   * String...)}).
   */
  private static final int MAX_SPARES = 64;

  private static final AtomicInteger POOLS = new AtomicInteger();

  /**
   * A pool's settings.
   *
   * @param workers how many workers
   * @param startMethod how they start, or null for the default
   * @param initializer run in each worker first, or null
   * @param maxTasksPerWorker tasks before a worker is replaced, or 0
   * @param taskTimeoutNanos the longest a task may run, or 0
   * @param jvmOptions the workers' JVM options
   * @param namePrefix the workers' name prefix, or null for the default
   */
  public record Settings(
      int workers,
      ChildProcess.StartMethod startMethod,
      ChildProcess.Target0 initializer,
      int maxTasksPerWorker,
      long taskTimeoutNanos,
      List<String> jvmOptions,
      String namePrefix) {}

  private enum State {
    RUNNING,
    SHUTDOWN,
    STOPPED,
    BROKEN
  }

  /** The threads of a pool know their pool, so that a wait for it on one of them can be refused. */
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();

  private final Settings settings;
  private final String prefix;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition work = lock.newCondition();
  private final ArrayDeque<TaskFuture<?>> queue = new ArrayDeque<>();
  private final List<Worker> workers = new ArrayList<>();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private final FnCache fns = new FnCache();
  private final AtomicLong ids = new AtomicLong();
  private final AtomicInteger names = new AtomicInteger();

  // Guarded by lock.
  private State state = State.RUNNING;

  /** True until {@link #start} has seen a worker run, or a worker fail to start. */
  private boolean starting = true;

  /** Why a worker could not start while {@link #starting}: {@link #start} throws it. */
  private Throwable startFailure;

  /**
   * How many of the workers started with the pool have neither run their initializer nor failed:
   * {@link #workerPids} waits for them.
   */
  private int unsettled;

  private String brokenMessage;
  private Throwable brokenCause;
  private int earlyDeaths;
  private int barrenDeaths;
  private int liveSlots;
  private ScheduledThreadPoolExecutor timers;

  private Dispatcher(Settings settings) {
    this.settings = settings;
    this.prefix =
        settings.namePrefix() != null
            ? settings.namePrefix()
            : "ProcessPool-" + POOLS.incrementAndGet() + "-worker";
  }

  /**
   * Starts a pool's workers, all at once, and returns as soon as one of them runs (has run its
   * initializer): tasks go to it from then on, and to each of the others once it runs too.
   *
   * @param settings the settings
   * @return the dispatcher
   * @throws IOException if a worker cannot start before any runs (the others are stopped)
   */
  public static Dispatcher start(Settings settings) throws IOException {
    Dispatcher d = new Dispatcher(settings);
    int n = settings.workers();
    if (settings.startMethod() == ChildProcess.StartMethod.WARM) {
      // one warm spare per worker, for the workers' exact options, from now on: the workers and
      // their replacements start warm (those not ready yet boot in the background)
      ChildProcess.prestartWarm(
          Math.min(n, MAX_SPARES), Duration.ZERO, workerJvmOptions(settings.jvmOptions()));
    }
    d.liveSlots = n;
    d.unsettled = n;
    for (int i = 1; i <= n; i++) {
      Thread.ofPlatform().daemon().name(d.prefix + "-slot-" + i).start(d.tracked(d::slot));
    }
    boolean interrupted = Thread.interrupted();
    Throwable f = d.awaitFirstReady();
    interrupted |= Thread.interrupted();
    if (f != null || interrupted) {
      d.shutdownNow();
      d.awaitTerminationUninterruptibly();
      if (interrupted) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while the pool's workers started");
      }
      switch (f) {
        case IOException e -> throw e;
        case RuntimeException e -> throw e;
        case Error e -> throw e;
        default -> throw new IOException(f);
      }
    }
    return d;
  }

  /** {@code body}, run as one of this pool's threads. */
  Runnable tracked(Runnable body) {
    return () -> {
      threads.add(Thread.currentThread());
      try {
        body.run();
      } finally {
        threads.remove(Thread.currentThread());
      }
    };
  }

  /**
   * Whether the calling thread is one of this pool's (a reader completing a future runs its
   * callbacks): such a thread cannot wait for the pool to terminate.
   *
   * @return true on a pool thread
   */
  public boolean onPoolThread() {
    return threads.contains(Thread.currentThread());
  }

  // ---------------------------------------------------------------- submitting

  /**
   * Queues {@code task.call()}.
   *
   * @param <T> the result type
   * @param task the task
   * @param timeoutNanos its time limit, or 0 for the pool's
   * @return its future
   */
  public <T> Future<T> submitCall(Callable<T> task, long timeoutNanos) {
    Objects.requireNonNull(task, "task");
    return submit(Wire.CALLABLE, task, false, null, timeoutNanos, task, Dispatcher::cast);
  }

  /**
   * Queues {@code task.run()}.
   *
   * @param <T> the result type
   * @param task the task
   * @param result the future's result
   * @return its future
   */
  public <T> Future<T> submitRun(Runnable task, T result) {
    Objects.requireNonNull(task, "task");
    return submit(
        Wire.RUNNABLE, task, false, null, 0, Executors.callable(task, result), v -> result);
  }

  /**
   * Queues {@code fn.apply(arg)}.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param arg the argument
   * @param timeoutNanos its time limit, or 0 for the pool's
   * @return its future
   */
  public <A, R> Future<R> submitApply(ProcessPool.Fn<A, R> fn, A arg, long timeoutNanos) {
    Objects.requireNonNull(fn, "fn");
    return submit(Wire.APPLY, fn, true, arg, timeoutNanos, () -> fn.apply(arg), Dispatcher::cast);
  }

  /**
   * Queues {@code fn} applied to each of {@code chunk}, as one task.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param chunk the arguments
   * @return the future of their results, in order
   */
  public <A, R> Future<List<R>> submitChunk(ProcessPool.Fn<A, R> fn, List<? extends A> chunk) {
    return submitChunks(fn, List.of(chunk)).get(0);
  }

  /**
   * Queues {@code fn} applied to each of each chunk, a task per chunk, all at once: the slots find
   * them queued together, and send each worker its share in one message.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param chunks the arguments, a list per task
   * @return the futures of their results, in order
   */
  public <A, R> List<Future<List<R>>> submitChunks(
      ProcessPool.Fn<A, R> fn, List<? extends List<? extends A>> chunks) {
    Objects.requireNonNull(fn, "fn");
    checkAccepting();
    List<TaskFuture<List<R>>> tasks = new ArrayList<>(chunks.size());
    for (List<? extends A> chunk : chunks) {
      ArrayList<Object> args = new ArrayList<>(chunk);
      Callable<List<R>> local =
          () -> {
            List<R> out = new ArrayList<>(chunk.size());
            for (A a : chunk) {
              out.add(fn.apply(a));
            }
            return out;
          };
      tasks.add(prepare(Wire.CHUNK, fn, true, args, 0, local, Dispatcher::cast));
    }
    enqueue(tasks);
    return List.copyOf(tasks);
  }

  @SuppressWarnings("unchecked")
  private static <T> T cast(Object o) {
    return (T) o;
  }

  private <T> TaskFuture<T> submit(
      int kind,
      Object task,
      boolean cached,
      Object arg,
      long timeoutNanos,
      Callable<?> local,
      Function<Object, T> adapt) {
    checkAccepting();
    TaskFuture<T> f = prepare(kind, task, cached, arg, timeoutNanos, local, adapt);
    enqueue(List.of(f));
    return f;
  }

  /** A task's future, its function and argument encoded (or failed if they do not encode). */
  private <T> TaskFuture<T> prepare(
      int kind,
      Object task,
      boolean cached,
      Object arg,
      long timeoutNanos,
      Callable<?> local,
      Function<Object, T> adapt) {
    FnCache.Entry fn = null;
    byte[] inline = null;
    byte[] argBytes = null;
    Exception encodeFailure = null;
    try {
      if (cached) {
        fn = fns.get(task);
      } else {
        inline = Values.serialize(task);
      }
      if (kind == Wire.APPLY || kind == Wire.CHUNK) {
        WireOut o =
            new WireOut(arg instanceof List<?> list ? 16 + 5 * Math.min(list.size(), 1 << 20) : 64);
        Values.write(o, arg);
        argBytes = o.toByteArray();
      }
    } catch (IOException | RuntimeException e) {
      encodeFailure = e;
    }
    long timeout = timeoutNanos > 0 ? timeoutNanos : settings.taskTimeoutNanos();
    TaskFuture<T> f =
        new TaskFuture<>(
            this,
            ids.incrementAndGet(),
            kind,
            fn,
            inline,
            argBytes,
            timeout,
            task.getClass().getClassLoader(),
            local,
            adapt);
    if (encodeFailure != null) {
      f.completeExceptionally(encodeFailure);
    }
    return f;
  }

  /**
   * Queues the tasks that are not done (those that failed to encode are), in order, under one
   * acquisition of the lock.
   */
  private void enqueue(List<? extends TaskFuture<?>> tasks) {
    lock.lock();
    try {
      checkAccepting();
      purgeQueueHead();
      boolean idle = queue.isEmpty();
      boolean added = false;
      for (TaskFuture<?> f : tasks) {
        if (!f.isDone()) {
          queue.add(f);
          added = true;
        }
      }
      if (idle && added) {
        // a slot waits for tasks only when the queue has none (else it is full, or ending): the
        // tasks added behind these reach the slots it wakes, without a wake-up each
        wakeAll();
      }
    } finally {
      lock.unlock();
    }
  }

  private void checkAccepting() {
    lock.lock();
    try {
      switch (state) {
        case RUNNING -> {}
        case BROKEN -> throw new RejectedExecutionException(brokenMessage, brokenCause);
        default -> throw new RejectedExecutionException("the ProcessPool is shut down");
      }
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- life cycle

  /**
   * The number of workers the pool keeps.
   *
   * @return the number
   */
  public int workers() {
    return settings.workers();
  }

  /**
   * The pids of the workers that run now (started and initialized, not dead). Waits first for the
   * workers started with the pool, which may still be starting when {@link #start} returns, to run
   * or fail (unless the pool is stopped or broken).
   *
   * @return the pids
   */
  public List<Long> workerPids() {
    lock.lock();
    try {
      while (unsettled > 0 && (state == State.RUNNING || state == State.SHUTDOWN)) {
        work.awaitUninterruptibly();
      }
      List<Long> pids = new ArrayList<>();
      for (Worker w : workers) {
        if (w.ready && !w.dead && !w.closing) {
          pids.add(w.pid);
        }
      }
      return pids;
    } finally {
      lock.unlock();
    }
  }

  /** No new tasks; the queued ones run, then the workers exit. */
  public void shutdown() {
    lock.lock();
    try {
      if (state == State.RUNNING) {
        state = State.SHUTDOWN;
      }
      wakeAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * No new tasks; kills the workers; cancels and returns the tasks that never started.
   *
   * @return runnables that run those tasks here
   */
  public List<Runnable> shutdownNow() {
    List<TaskFuture<?>> never = new ArrayList<>();
    List<Worker> kill;
    lock.lock();
    try {
      if (state == State.RUNNING || state == State.SHUTDOWN) {
        state = State.STOPPED;
      }
      for (TaskFuture<?> t : queue) {
        if (!t.isDone()) {
          never.add(t);
        }
      }
      queue.clear();
      for (Worker w : workers) {
        TaskFuture<?> running = started(w);
        for (TaskFuture<?> t : w.inflight) {
          if (t != running && !t.isDone()) {
            never.add(t);
          }
        }
      }
      kill = List.copyOf(workers);
      wakeAll();
    } finally {
      lock.unlock();
    }
    List<Runnable> runnables = new ArrayList<>(never.size());
    for (TaskFuture<?> t : never) {
      t.cancel(false);
      Callable<?> local = t.local;
      runnables.add(
          () -> {
            try {
              local.call();
            } catch (RuntimeException e) {
              throw e;
            } catch (Exception e) {
              throw new java.util.concurrent.CompletionException(e);
            }
          });
    }
    for (Worker w : kill) {
      w.kill();
    }
    return runnables;
  }

  /**
   * Whether shutdown (or broken).
   *
   * @return true unless running
   */
  public boolean isShutdown() {
    lock.lock();
    try {
      return state != State.RUNNING;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Whether every slot has ended: tasks done, workers reaped.
   *
   * @return true once terminated
   */
  public boolean isTerminated() {
    return terminated.getCount() == 0;
  }

  /**
   * Waits for termination.
   *
   * @param timeout the longest wait
   * @param unit its unit
   * @return whether terminated
   * @throws InterruptedException if interrupted
   */
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return terminated.await(timeout, unit);
  }

  /**
   * Waits until a worker has run its initializer, or one could not start, or the pool is no longer
   * running; from then on, a worker that cannot start is replaced as any other ({@link
   * #launchFailed}).
   *
   * @return why a worker could not start, or null
   */
  private Throwable awaitFirstReady() {
    lock.lock();
    try {
      while (startFailure == null && state == State.RUNNING && !anyReady()) {
        work.awaitUninterruptibly();
      }
      starting = false;
      return startFailure;
    } finally {
      lock.unlock();
    }
  }

  /** Whether a worker runs. Under the lock. */
  private boolean anyReady() {
    for (Worker w : workers) {
      if (w.ready && !w.dead) {
        return true;
      }
    }
    return false;
  }

  /**
   * A worker started with the pool has run its initializer, or failed, or died: {@link #workerPids}
   * waits no longer for it. Under the lock.
   */
  private void settled(Worker w) {
    if (w.initial) {
      w.initial = false;
      unsettled--;
      work.signalAll();
    }
  }

  /**
   * The first launch of a slot failed: true if {@link #start} is still waiting, and then throws
   * {@code e}; false if the pool runs, and the slot replaces the worker as any other.
   */
  private boolean firstLaunchFailed(Throwable e) {
    lock.lock();
    try {
      unsettled--;
      work.signalAll();
      if (starting) {
        if (startFailure == null) {
          startFailure = e;
        }
        return true;
      }
      return false;
    } finally {
      lock.unlock();
    }
  }

  private void awaitTerminationUninterruptibly() {
    Uninterruptibly.await(terminated::await);
  }

  // ---------------------------------------------------------------- a slot

  private void slot() {
    boolean first = true;
    try {
      for (; ; ) {
        Worker w;
        try {
          w = launch();
        } catch (Throwable e) {
          if (first) {
            first = false;
            if (firstLaunchFailed(e)) {
              return;
            }
          }
          if (launchFailed()) {
            broken(
                "the ProcessPool is broken: "
                    + EARLY_DEATHS_LIMIT
                    + " workers in a row could not start",
                e);
            return;
          }
          if (!shouldReplace()) {
            return;
          }
          continue; // try again
        }
        w.initial = first;
        first = false;
        if (!adopt(w)) {
          w.conn.close();
          w.kill();
          joinProcess(w);
          w.process.close();
          w.current.close();
          return;
        }
        w.startReader();
        feed(w);
        settle(w);
        if (!shouldReplace()) {
          return;
        }
      }
    } finally {
      slotExited();
    }
  }

  private Worker launch() throws IOException {
    Pipe pipe = Pipe.open(true);
    SharedLong current = null;
    try {
      current = SharedLong.create(0);
      ChildProcess p =
          ChildProcess.of(
                  WorkerMain.TARGET,
                  pipe.conn1(),
                  current,
                  new WorkerConfig(settings.initializer()))
              .name(prefix + "-" + names.incrementAndGet())
              .daemon(true)
              .jvmOptions(workerJvmOptions(settings.jvmOptions()));
      if (settings.startMethod() != null) {
        p.startMethod(settings.startMethod());
      }
      p.start();
      pipe.conn1().close();
      return new Worker(this, p, pipe.conn2(), current, lock.newCondition());
    } catch (IOException | RuntimeException | Error e) {
      pipe.close();
      if (current != null) {
        current.close();
      }
      throw e;
    }
  }

  /**
   * The JVM options of a pool's workers: the pool's own, then the user's.
   *
   * @param user the options the pool was given
   * @return all the options
   */
  public static String[] workerJvmOptions(List<String> user) {
    String[] all = new String[user.size() + 1];
    all[0] = "-XX:+ExitOnOutOfMemoryError";
    for (int i = 0; i < user.size(); i++) {
      all[i + 1] = user.get(i);
    }
    return all;
  }

  /**
   * Readies what a pool's workers start from, so that the pool's start does not pay for it: for
   * {@link ChildProcess.StartMethod#WARM}, one warm spare per worker; otherwise the AOT cache that
   * spawned workers boot from.
   *
   * @param settings the pool's settings
   * @param wait the longest wait
   * @return whether it is ready now
   */
  public static boolean prepare(Settings settings, Duration wait) {
    String[] options = workerJvmOptions(settings.jvmOptions());
    if (settings.startMethod() == ChildProcess.StartMethod.WARM) {
      return ChildProcess.prestartWarm(Math.min(settings.workers(), MAX_SPARES), wait, options);
    }
    return ChildProcess.prepareSpawn(wait, options);
  }

  /** Counts a replacement that could not start; true when the pool should break. */
  private boolean launchFailed() {
    lock.lock();
    try {
      return ++earlyDeaths >= EARLY_DEATHS_LIMIT || state == State.STOPPED;
    } finally {
      lock.unlock();
    }
  }

  private boolean adopt(Worker w) {
    lock.lock();
    try {
      if (state == State.STOPPED || state == State.BROKEN) {
        settled(w);
        return false;
      }
      workers.add(w);
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Sends tasks to {@code w} until it dies, or should end (retired, shut down, stopped). */
  private void feed(Worker w) {
    int max = settings.maxTasksPerWorker();
    for (; ; ) {
      List<TaskFuture<?>> batch = List.of();
      List<Long> cancels = List.of();
      lock.lock();
      try {
        for (; ; ) {
          if (w.dead) {
            return;
          }
          boolean stopping = state == State.STOPPED || state == State.BROKEN;
          purgeQueueHead();
          boolean retire = max > 0 && w.sent >= max;
          if (w.inflight.isEmpty()
              && (stopping || retire || (state != State.RUNNING && queue.isEmpty()))) {
            return;
          }
          if (!w.cancels.isEmpty()) {
            cancels = new ArrayList<>(w.cancels);
            w.cancels.clear();
          }
          int room = WINDOW - w.inflight.size();
          if (max > 0) {
            room = Math.min(room, max - w.sent);
          }
          // a worker gets tasks once it has run its initializer: one that boots slowly (a cold
          // replacement on a loaded machine) must not sit on tasks that the others could run
          if (!stopping && w.ready && room > 0 && !queue.isEmpty()) {
            int share = Math.max(1, (queue.size() + settings.workers() - 1) / settings.workers());
            int n = Math.min(room, share);
            batch = new ArrayList<>(n);
            while (batch.size() < n) {
              TaskFuture<?> t = queue.poll();
              if (t == null) {
                break;
              }
              if (t.isDone()) {
                continue;
              }
              t.worker = w;
              w.inflight.add(t);
              w.sent++;
              batch.add(t);
            }
          }
          if (!batch.isEmpty() || !cancels.isEmpty()) {
            break;
          }
          w.wake.awaitUninterruptibly();
        }
      } finally {
        lock.unlock();
      }
      boolean sent;
      try {
        w.send(batch, cancels);
        sent = true;
      } catch (IOException | RuntimeException e) {
        sent = false; // it died, or its connection broke: kill it, its end of file follows
        w.kill();
      }
      if (!sent) {
        awaitDeath(w);
        return;
      }
      if (!batch.isEmpty()) {
        lock.lock();
        try {
          for (TaskFuture<?> t : batch) {
            t.written = true;
          }
          startHead(w);
        } finally {
          lock.unlock();
        }
      }
    }
  }

  private void awaitDeath(Worker w) {
    lock.lock();
    try {
      while (!w.dead) {
        work.awaitUninterruptibly();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Wakes every thread that waits for a change: the slots, and a start waiting for workers. */
  private void wakeAll() {
    work.signalAll();
    for (Worker w : workers) {
      w.wake.signal();
    }
  }

  private void purgeQueueHead() {
    while (!queue.isEmpty() && queue.peekFirst().isDone()) {
      queue.pollFirst();
    }
  }

  /** After {@link #feed} returns: ends the worker, reaps it and settles the tasks it held. */
  private void settle(Worker w) {
    boolean graceful;
    lock.lock();
    try {
      graceful = !w.dead;
      if (graceful) {
        w.closing = true;
      }
    } finally {
      lock.unlock();
    }
    if (graceful) {
      w.conn.close(); // the worker's end of file: it exits
    }
    joinProcess(w);
    w.joinReader();
    w.conn.close();
    int exitCode = w.process.exitCode().orElse(Integer.MIN_VALUE);
    w.process.close();

    TaskFuture<?> died = null;
    List<TaskFuture<?>> orphans = new ArrayList<>();
    boolean tooManyEarlyDeaths = false;
    boolean tooManyBarrenDeaths = false;
    State now;
    lock.lock();
    try {
      workers.remove(w);
      settled(w);
      TaskFuture<?> running = started(w);
      for (TaskFuture<?> t : w.inflight) {
        if (t.timer != null) {
          t.timer.cancel(false);
          t.timer = null;
        }
        if (t.isDone()) {
          continue;
        }
        if (t == running) {
          died = t;
        } else {
          orphans.add(t);
        }
      }
      w.inflight.clear();
      if (!w.ready && !graceful && (state == State.RUNNING || state == State.SHUTDOWN)) {
        tooManyEarlyDeaths = ++earlyDeaths >= EARLY_DEATHS_LIMIT;
      }
      if (w.ready
          && !graceful
          && running == null
          && w.answers == 0
          && (state == State.RUNNING || state == State.SHUTDOWN)) {
        tooManyBarrenDeaths = ++barrenDeaths >= BARREN_DEATHS_LIMIT;
      }
      now = state;
      if (now == State.RUNNING || now == State.SHUTDOWN) {
        for (int i = orphans.size() - 1; i >= 0; i--) {
          TaskFuture<?> t = orphans.get(i);
          t.worker = null;
          t.written = false;
          queue.addFirst(t);
        }
        orphans.clear();
        wakeAll();
      }
    } finally {
      lock.unlock();
    }
    w.current.close();
    WorkerDiedException death = null;
    if (!graceful) {
      death =
          new WorkerDiedException(
              "worker "
                  + w
                  + (exitCode < 0
                      ? " was killed by signal " + -exitCode
                      : " exited with code " + exitCode)
                  + (exitCode == WorkerMain.OUT_OF_MEMORY_EXIT ? " (out of memory?)" : "")
                  + " while running the task",
              w.pid,
              exitCode);
    }
    if (died != null && death != null) {
      died.completeExceptionally(death);
    }
    for (TaskFuture<?> t : orphans) {
      if (now == State.BROKEN) {
        t.completeExceptionally(brokenException());
      } else {
        t.cancel(false);
      }
    }
    if (tooManyBarrenDeaths) {
      broken(
          "the ProcessPool is broken: "
              + BARREN_DEATHS_LIMIT
              + " workers in a row died between tasks before answering any",
          death);
    }
    if (tooManyEarlyDeaths) {
      broken(
          "the ProcessPool is broken: "
              + EARLY_DEATHS_LIMIT
              + " workers in a row died before their initializer finished",
          death);
    }
  }

  private void joinProcess(Worker w) {
    Uninterruptibly.await(
        () -> {
          while (!w.process.join(Duration.ofSeconds(10))) {
            w.kill(); // its connection ended but it lingers: it must not run on
          }
        });
  }

  private boolean shouldReplace() {
    lock.lock();
    try {
      purgeQueueHead();
      return state == State.RUNNING || (state == State.SHUTDOWN && !queue.isEmpty());
    } finally {
      lock.unlock();
    }
  }

  private void slotExited() {
    List<TaskFuture<?>> left;
    ScheduledThreadPoolExecutor t;
    lock.lock();
    try {
      if (--liveSlots > 0) {
        return;
      }
      left = new ArrayList<>(queue);
      queue.clear();
      t = timers;
      timers = null;
    } finally {
      lock.unlock();
    }
    if (t != null) {
      t.shutdownNow();
    }
    for (TaskFuture<?> f : left) {
      f.cancel(false);
    }
    terminated.countDown();
  }

  // ---------------------------------------------------------------- events

  /**
   * The task {@code w} runs now as far as the parent can tell: the oldest it was sent, once it is
   * ready. Under the lock.
   */
  private TaskFuture<?> running(Worker w) {
    TaskFuture<?> head = w.inflight.peekFirst();
    return head != null && w.ready && head.written ? head : null;
  }

  /**
   * The task {@code w} had started when it died or was stopped, as the worker itself said in its
   * shared word: null if it was between tasks. Under the lock.
   */
  private TaskFuture<?> started(Worker w) {
    long id = w.current.get();
    for (TaskFuture<?> t : w.inflight) {
      if (t.id == id) {
        return t;
      }
    }
    return null;
  }

  /** Starts the time limit of the task {@code w} runs now, if it has one. Under the lock. */
  private void startHead(Worker w) {
    TaskFuture<?> head = running(w);
    if (head == null || head.timeoutNanos <= 0 || head.timer != null || head.isDone()) {
      return;
    }
    if (timers == null) {
      timers =
          new ScheduledThreadPoolExecutor(
              1, r -> Thread.ofPlatform().daemon().name(prefix + "-timer").unstarted(tracked(r)));
      timers.setRemoveOnCancelPolicy(true);
    }
    head.timer = timers.schedule(() -> timedOut(w, head), head.timeoutNanos, TimeUnit.NANOSECONDS);
  }

  private void timedOut(Worker w, TaskFuture<?> t) {
    lock.lock();
    try {
      if (running(w) != t || t.isDone()) {
        return;
      }
    } finally {
      lock.unlock();
    }
    t.completeExceptionally(
        new TimeoutException(
            "task ran longer than "
                + Duration.ofNanos(t.timeoutNanos)
                + "; its worker was stopped"));
    w.kill();
  }

  void ready(Worker w) {
    lock.lock();
    try {
      w.ready = true;
      settled(w);
      earlyDeaths = 0;
      startHead(w);
      wakeAll();
    } finally {
      lock.unlock();
    }
  }

  void initializerFailed(Worker w, Throwable cause) {
    broken("the ProcessPool is broken: the initializer failed in worker " + w, cause);
  }

  /** Takes the task {@code w} answered off its list; null if it holds no such task. */
  TaskFuture<?> answered(Worker w, long id) {
    lock.lock();
    try {
      TaskFuture<?> t = w.inflight.peekFirst();
      if (t != null && t.id == id) {
        w.inflight.pollFirst();
      } else {
        t = null;
        for (Iterator<TaskFuture<?>> it = w.inflight.iterator(); it.hasNext(); ) {
          TaskFuture<?> c = it.next();
          if (c.id == id) {
            it.remove();
            t = c;
            break;
          }
        }
        if (t == null) {
          return null;
        }
      }
      if (t.timer != null) {
        t.timer.cancel(false);
        t.timer = null;
      }
      t.written = true; // answered, so it was delivered
      w.answers++;
      barrenDeaths = 0;
      startHead(w);
      // Only this worker's slot can have something to do now, and only if the worker has no task
      // left (the slot may have to end it) or has room for a batch that the queue can fill: a
      // wake-up per answer would cost a context switch per task, mostly for nothing.
      if (w.inflight.isEmpty() || (w.inflight.size() <= REFILL && !queue.isEmpty())) {
        w.wake.signal();
      }
      return t;
    } finally {
      lock.unlock();
    }
  }

  void workerGone(Worker w) {
    lock.lock();
    try {
      w.dead = true;
      wakeAll();
    } finally {
      lock.unlock();
    }
  }

  boolean closing(Worker w) {
    lock.lock();
    try {
      return w.closing;
    } finally {
      lock.unlock();
    }
  }

  void cancelled(TaskFuture<?> t, boolean mayInterrupt) {
    Worker kill = null;
    lock.lock();
    try {
      Worker w = t.worker;
      if (w == null) {
        return; // queued: the slot that takes it skips it
      }
      if (t.timer != null) {
        t.timer.cancel(false);
        t.timer = null;
      }
      if (running(w) == t) {
        if (mayInterrupt) {
          kill = w;
        }
      } else if (w.inflight.contains(t)) {
        w.cancels.add(t.id);
        w.wake.signal();
      }
    } finally {
      lock.unlock();
    }
    if (kill != null) {
      kill.kill();
    }
  }

  private RejectedExecutionException brokenException() {
    lock.lock();
    try {
      return new RejectedExecutionException(brokenMessage, brokenCause);
    } finally {
      lock.unlock();
    }
  }

  private void broken(String message, Throwable cause) {
    List<TaskFuture<?>> fail = new ArrayList<>();
    List<Worker> kill;
    lock.lock();
    try {
      if (state == State.BROKEN || state == State.STOPPED) {
        return;
      }
      state = State.BROKEN;
      brokenMessage = message;
      brokenCause = cause;
      for (TaskFuture<?> t : queue) {
        if (!t.isDone()) {
          fail.add(t);
        }
      }
      queue.clear();
      for (Worker w : workers) {
        for (TaskFuture<?> t : w.inflight) {
          if (!t.isDone()) {
            fail.add(t);
          }
        }
      }
      kill = List.copyOf(workers);
      wakeAll();
    } finally {
      lock.unlock();
    }
    for (TaskFuture<?> t : fail) {
      t.completeExceptionally(new RejectedExecutionException(message, cause));
    }
    for (Worker w : kill) {
      w.kill();
    }
  }
}
