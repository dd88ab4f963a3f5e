package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.pool.Dispatcher;
import io.jpipe.internal.pool.UnorderedResults;
import java.io.IOException;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * An {@link ExecutorService} whose tasks run in child JVMs, its <em>workers</em> (CPython's {@code
 * multiprocessing.Pool} and {@code concurrent.futures.ProcessPoolExecutor}). A task that crashes,
 * exhausts memory, calls {@code System.exit} or is killed takes only its own worker down, and only
 * its own {@link Future} fails: the pool replaces the worker and runs the other tasks.
 *
 * <pre>{@code
 * static int square(int x) { return x * x; }
 *
 * try (ProcessPool pool = ProcessPool.create(4)) {
 *   Future<Integer> f = pool.submit(Demo::square, 7);           // 49
 *   List<Integer> all = pool.map(Demo::square, List.of(1, 2, 3)); // [1, 4, 9], in order
 *   try (Stream<Integer> s = pool.mapUnordered(Demo::square, inputs, 10)) {
 *     s.forEach(System.out::println);                              // as they complete
 *   }
 * }
 * }</pre>
 *
 * <h2>Tasks</h2>
 *
 * <p>A task, its function and its argument are sent to a worker, so they must be serializable: the
 * task types here ({@link Task}, {@link Job}, {@link Fn}) are, and a lambda or method reference
 * given for them is too (with whatever it captures, which must be serializable). Tasks given as a
 * plain {@link Callable} or {@link Runnable} must implement {@link Serializable}. A task that
 * cannot be encoded is not sent: its {@code Future} fails with the {@link
 * java.io.NotSerializableException} (or other encoding error). Results go back the same way. Method
 * references to static methods are the cheapest tasks: a function is sent to each worker once and
 * named by a number afterwards, and integers, longs, doubles, strings, byte arrays, booleans,
 * {@code null} and lists of them travel in a compact form rather than by Java serialization.
 *
 * <h2>What a {@code Future} can end with</h2>
 *
 * <ul>
 *   <li>the task's result;
 *   <li>the task's exception, as the cause of {@link ExecutionException}: the exception object
 *       itself, decoded, with its stack trace from the worker; or a {@link RemoteTaskException}
 *       carrying its class name, message and stack trace when it cannot be sent. The worker runs on
 *       after a task throws;
 *   <li>{@link WorkerDiedException} as the cause when the worker died while running the task (exit
 *       code, or the signal that killed it). Tasks already handed to that worker but not started go
 *       back to the queue and run on another worker; the dead worker is replaced unless the pool is
 *       shut down. The pool learns of the death from the end of file on the worker's connection, so
 *       nothing waits forever;
 *   <li>{@link TimeoutException} as the cause when the task ran longer than its timeout ({@link
 *       Builder#taskTimeout}, {@link #submit(Task, Duration)}): its worker was stopped (killed) and
 *       is replaced;
 *   <li>{@link java.util.concurrent.CancellationException} after {@link Future#cancel}: a task not
 *       yet running is dropped; {@code cancel(true)} on a running task kills its worker, which is
 *       replaced (CPython cannot cancel a running task). A task handed to a worker that starts it
 *       before the cancellation reaches it, without being the task the pool knows to be running,
 *       runs to the end and its result is discarded;
 *   <li>{@link java.util.concurrent.RejectedExecutionException} as the cause when the pool is
 *       broken (see {@link Builder#initializer}) or could not replace a worker.
 * </ul>
 *
 * <h2>Life cycle</h2>
 *
 * <p>{@link #shutdown()} refuses new tasks ({@link
 * java.util.concurrent.RejectedExecutionException}), lets the queued ones run, and then the workers
 * exit; {@link #awaitTermination} waits for that, with every worker reaped. {@link #shutdownNow()}
 * kills the workers, fails the running tasks with {@link WorkerDiedException} and cancels the
 * queued ones. {@link #close()} is {@code shutdown} and a wait, as for every {@link
 * ExecutorService}. Workers are {@linkplain ChildProcess#daemon(boolean) daemon} children: they die
 * with this JVM even if it is killed. Tasks running in a worker cannot start child processes (a
 * daemon child may not). The pool's threads in this JVM are daemon threads that end when the pool
 * terminates.
 *
 * <p>All methods may be called from any thread, virtual threads included.
 */
public final class ProcessPool implements ExecutorService {

  /**
   * A serializable {@link Callable}: the type lambdas and method references become in {@link
   * #submit(Task)}.
   *
   * @param <T> the result type
   */
  @FunctionalInterface
  public interface Task<T> extends Callable<T>, Serializable {}

  /** A serializable {@link Runnable}: the type lambdas become in {@link #submit(Job)}. */
  @FunctionalInterface
  public interface Job extends Runnable, Serializable {}

  /**
   * A serializable function of one argument, for {@link #submit(Fn, Object)}, {@link #map} and
   * {@link #mapUnordered}.
   *
   * @param <A> the argument type
   * @param <R> the result type
   */
  @FunctionalInterface
  public interface Fn<A, R> extends Serializable {
    /**
     * Runs in a worker.
     *
     * @param a the argument
     * @return the result
     * @throws Exception anything; it becomes the cause of the task's {@link ExecutionException}
     */
    R apply(A a) throws Exception;
  }

  /**
   * Starts a pool of {@code workers} workers with the default settings ({@code
   * builder().workers(workers).start()}).
   *
   * @param workers how many worker JVMs
   * @return the running pool
   * @throws IllegalArgumentException if {@code workers} is less than 1
   * @throws ProcessStartException if a worker cannot start before any other runs (the others are
   *     stopped)
   * @throws IOException if a worker cannot be spawned before any other runs
   */
  public static ProcessPool create(int workers) throws IOException {
    return builder().workers(workers).start();
  }

  /**
   * A builder for a pool.
   *
   * @return a new builder with the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Settings of a {@link ProcessPool}; {@link #start()} starts one. */
  public static final class Builder {
    private int workers = Runtime.getRuntime().availableProcessors();
    private ChildProcess.StartMethod startMethod;
    private ChildProcess.Target0 initializer;
    private int maxTasksPerWorker;
    private long taskTimeoutNanos;
    private final List<String> jvmOptions = new ArrayList<>();
    private String name;

    Builder() {}

    /**
     * How many workers (default: {@link Runtime#availableProcessors()}).
     *
     * @param n the number of worker JVMs
     * @return this
     * @throws IllegalArgumentException if {@code n} is less than 1
     */
    public Builder workers(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("workers must be at least 1: " + n);
      }
      this.workers = n;
      return this;
    }

    /**
     * How workers start (default: {@link ChildProcess#setDefaultStartMethod}'s). A pool given
     * {@link ChildProcess.StartMethod#WARM} here keeps one warm spare per worker ready for its
     * workers' exact JVM options ({@link ChildProcess#prestartWarm(int, Duration, String...)}), so
     * that its workers and their replacements start warm; {@link #prepare} boots them ahead.
     *
     * @param m the start method
     * @return this
     */
    public Builder startMethod(ChildProcess.StartMethod m) {
      this.startMethod = Objects.requireNonNull(m, "m");
      return this;
    }

    /**
     * Code each worker runs once, before its first task (CPython's {@code initializer}). If it
     * throws, or three workers in a row die in it, the pool is <em>broken</em>: it does not start
     * another worker, every task not yet done fails with a {@link
     * java.util.concurrent.RejectedExecutionException} whose cause is the initializer's exception,
     * and so does every later submission (as CPython's {@code BrokenProcessPool}).
     *
     * @param init the initializer
     * @return this
     */
    public Builder initializer(ChildProcess.Target0 init) {
      this.initializer = Objects.requireNonNull(init, "init");
      return this;
    }

    /**
     * How many tasks a worker runs before it is replaced by a new one (CPython's {@code
     * maxtasksperchild}); 0, the default, for no limit. A chunk of {@link #map} counts as one task.
     *
     * @param n the limit, or 0
     * @return this
     * @throws IllegalArgumentException if {@code n} is negative
     */
    public Builder maxTasksPerWorker(int n) {
      if (n < 0) {
        throw new IllegalArgumentException("maxTasksPerWorker must not be negative: " + n);
      }
      this.maxTasksPerWorker = n;
      return this;
    }

    /**
     * The longest a task may run (default: no limit). A task that runs longer fails with {@link
     * TimeoutException} as its cause, and its worker is killed and replaced.
     *
     * @param d the limit, or null for none
     * @return this
     * @throws IllegalArgumentException if {@code d} is zero or negative
     */
    public Builder taskTimeout(Duration d) {
      this.taskTimeoutNanos = d == null ? 0 : positiveNanos(d);
      return this;
    }

    /**
     * Options for the workers' JVMs, such as {@code -Xmx256m} (see {@link
     * ChildProcess#jvmOptions}). Workers also get {@code -XX:+ExitOnOutOfMemoryError}, so a task
     * that exhausts memory ends its worker (exit code 3) instead of leaving it unusable.
     *
     * @param options the options
     * @return this
     */
    public Builder jvmOptions(String... options) {
      for (String o : options) {
        jvmOptions.add(Objects.requireNonNull(o, "option"));
      }
      return this;
    }

    /**
     * The prefix of the workers' {@linkplain ChildProcess#name names}: workers are named {@code
     * prefix-1}, {@code prefix-2}, ... in the order they start, replacements included (default
     * {@code "ProcessPool-N-worker"}).
     *
     * @param prefix the prefix
     * @return this
     */
    public Builder name(String prefix) {
      this.name = Objects.requireNonNull(prefix, "prefix");
      return this;
    }

    /**
     * Starts the workers, all at once, and returns as soon as one of them runs and has run the
     * {@linkplain #initializer initializer} (as CPython's pools take tasks before all their workers
     * are up): tasks go to that worker at once, and to each of the others as soon as it runs too.
     * {@link ProcessPool#workerPids()} waits for the others. A worker that cannot start after
     * another runs is replaced as a dead one would be. A pool whose initializer failed is returned
     * broken: its {@code submit} throws {@link java.util.concurrent.RejectedExecutionException}
     * with the initializer's exception as the cause.
     *
     * @return the pool
     * @throws ProcessStartException if a worker cannot start before any other runs (the others are
     *     stopped)
     * @throws IOException if a worker cannot be spawned before any other runs
     */
    public ProcessPool start() throws IOException {
      return new ProcessPool(Dispatcher.start(settings()));
    }

    /**
     * Readies, ahead of {@link #start()}, what this pool's workers will start from, and waits up to
     * {@code wait} for it (as CPython's {@code forkserver.ensure_running}): with {@link
     * ChildProcess.StartMethod#WARM}, one warm spare per worker (a WARM pool asks for them itself
     * when it starts, but does not wait for them); otherwise the AOT cache spawned workers boot
     * from ({@link ChildProcess#prepareSpawn}). Optional: a pool works without it.
     *
     * @param wait the longest wait; zero for none (it goes on in the background)
     * @return whether it is ready now
     */
    public boolean prepare(Duration wait) {
      Objects.requireNonNull(wait, "wait");
      return Dispatcher.prepare(settings(), wait);
    }

    private Dispatcher.Settings settings() {
      return new Dispatcher.Settings(
          workers,
          startMethod,
          initializer,
          maxTasksPerWorker,
          taskTimeoutNanos,
          List.copyOf(jvmOptions),
          name);
    }
  }

  /** How many chunks of a {@code map} are queued at once. */
  private static final int CHUNK_GROUP = 256;

  private final Dispatcher engine;

  private ProcessPool(Dispatcher engine) {
    this.engine = engine;
  }

  private static long positiveNanos(Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("the timeout must be positive: " + d);
    }
    return Durations.toNanos(d);
  }

  private static long deadline(long timeout, TimeUnit unit) {
    long nanos = unit.toNanos(timeout);
    long now = System.nanoTime();
    return nanos >= Long.MAX_VALUE - now ? Long.MAX_VALUE : now + nanos;
  }

  private static void cancelAll(List<? extends Future<?>> futures) {
    for (Future<?> f : futures) {
      f.cancel(true);
    }
  }

  /** Waits until every future is done, or one has failed. */
  private static void awaitAllOrFailure(List<? extends Future<?>> futures)
      throws InterruptedException {
    CompletableFuture<Void> settled = new CompletableFuture<>();
    AtomicInteger left = new AtomicInteger(futures.size());
    if (futures.isEmpty()) {
      return;
    }
    for (Future<?> f : futures) {
      ((CompletableFuture<?>) f)
          .whenComplete(
              (v, e) -> {
                if (e != null || left.decrementAndGet() == 0) {
                  settled.complete(null);
                }
              });
    }
    try {
      settled.get();
    } catch (ExecutionException e) {
      throw new AssertionError("never completed exceptionally", e);
    }
  }

  private <A, R> List<Future<List<R>>> submitChunks(
      Fn<A, R> fn, Iterable<? extends A> inputs, int chunkSize) {
    Objects.requireNonNull(fn, "fn");
    if (chunkSize < 1) {
      throw new IllegalArgumentException("chunkSize must be at least 1: " + chunkSize);
    }
    List<Future<List<R>>> chunks = new ArrayList<>();
    // queued a group at a time (one lock, one wake-up), so that workers start before a long input
    // is read to its end
    List<List<A>> group = new ArrayList<>();
    List<A> chunk = new ArrayList<>(chunkSize);
    try {
      for (A a : inputs) {
        chunk.add(a);
        if (chunk.size() == chunkSize) {
          group.add(chunk);
          chunk = new ArrayList<>(chunkSize);
          if (group.size() == CHUNK_GROUP) {
            chunks.addAll(engine.submitChunks(fn, group));
            group.clear();
          }
        }
      }
      if (!chunk.isEmpty()) {
        group.add(chunk);
      }
      if (!group.isEmpty()) {
        chunks.addAll(engine.submitChunks(fn, group));
      }
    } catch (RuntimeException e) {
      for (Future<List<R>> f : chunks) {
        f.cancel(false);
      }
      throw e;
    }
    return chunks;
  }

  // ---------------------------------------------------------------- submitting

  /**
   * Runs {@code task.call()} in a worker. A lambda or method reference for a {@link Callable}
   * becomes a {@link Task} here, and so is serializable.
   *
   * @param <T> the result type
   * @param task the task
   * @return its future
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public <T> Future<T> submit(Task<T> task) {
    return engine.submitCall(task, 0);
  }

  /**
   * Runs {@code task.run()} in a worker; the future's result is null.
   *
   * @param task the task
   * @return its future
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public Future<?> submit(Job task) {
    return engine.submitRun(task, null);
  }

  /**
   * Runs {@code task.call()} in a worker, for at most {@code timeout}: if it runs longer, its
   * worker is killed (and replaced) and the future fails with {@link TimeoutException} as its
   * cause. This overrides {@link Builder#taskTimeout} for this task.
   *
   * @param <T> the result type
   * @param task the task
   * @param timeout the longest it may run
   * @return its future
   * @throws IllegalArgumentException if {@code timeout} is zero or negative
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public <T> Future<T> submit(Task<T> task, Duration timeout) {
    return engine.submitCall(task, positiveNanos(timeout));
  }

  /**
   * Runs {@code fn.apply(arg)} in a worker (CPython's {@code submit(fn, arg)}). The cheapest way to
   * submit one task: {@code fn} goes to each worker once.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param arg its argument
   * @return the future of its result
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public <A, R> Future<R> submit(Fn<A, R> fn, A arg) {
    return engine.submitApply(fn, arg, 0);
  }

  /**
   * Applies {@code fn} to every input in the workers, {@code chunkSize} inputs per task, and
   * returns the results in input order (CPython's {@code Pool.map(fn, inputs, chunksize)}). Within
   * a chunk, inputs after one that throws are not run.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param inputs the arguments
   * @param chunkSize how many inputs go to a worker as one task
   * @return the results, in input order
   * @throws ExecutionException for the first input, in input order, whose task failed (its cause is
   *     what a {@code Future} would give); the tasks not yet done are cancelled
   * @throws InterruptedException if interrupted while waiting (the tasks are cancelled)
   * @throws IllegalArgumentException if {@code chunkSize} is less than 1
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public <A, R> List<R> map(Fn<A, R> fn, Iterable<? extends A> inputs, int chunkSize)
      throws InterruptedException, ExecutionException {
    List<Future<List<R>>> chunks = submitChunks(fn, inputs, chunkSize);
    List<R> results = new ArrayList<>();
    try {
      awaitAllOrFailure(chunks); // one wake-up rather than one per chunk
      for (Future<List<R>> f : chunks) {
        results.addAll(f.get());
      }
    } catch (InterruptedException | ExecutionException | RuntimeException e) {
      for (Future<List<R>> f : chunks) {
        f.cancel(false);
      }
      throw e;
    }
    return results;
  }

  /**
   * {@link #map(Fn, Iterable, int)} with the chunk size CPython's {@code Pool.map} picks: the
   * number of inputs divided by four times the number of workers, rounded up.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param inputs the arguments
   * @return the results, in input order
   * @throws ExecutionException for the first input, in input order, whose task failed
   * @throws InterruptedException if interrupted while waiting (the tasks are cancelled)
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public <A, R> List<R> map(Fn<A, R> fn, Iterable<? extends A> inputs)
      throws InterruptedException, ExecutionException {
    List<A> all = new ArrayList<>();
    inputs.forEach(all::add);
    int per = engine.workers() * 4;
    int chunkSize = all.size() / per + (all.size() % per == 0 ? 0 : 1);
    return map(fn, all, Math.max(1, chunkSize));
  }

  /**
   * Applies {@code fn} to every input in the workers, {@code chunkSize} inputs per task, and
   * streams the results as the tasks complete, in no particular order (CPython's {@code
   * Pool.imap_unordered}). Every task is queued before this method returns; the stream blocks while
   * it waits for the next result. A task that failed makes the stream throw {@link
   * java.util.concurrent.CompletionException} with the failure's cause (as a {@code Future} would
   * give it) when its turn comes. Closing the stream cancels the tasks that have not run; use it in
   * try-with-resources.
   *
   * @param <A> the argument type
   * @param <R> the result type
   * @param fn the function
   * @param inputs the arguments
   * @param chunkSize how many inputs go to a worker as one task
   * @return the results, in completion order
   * @throws IllegalArgumentException if {@code chunkSize} is less than 1
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  public <A, R> Stream<R> mapUnordered(Fn<A, R> fn, Iterable<? extends A> inputs, int chunkSize) {
    List<Future<List<R>>> chunks = submitChunks(fn, inputs, chunkSize);
    return UnorderedResults.stream(chunks);
  }

  /**
   * The number of workers the pool keeps running.
   *
   * @return the number of workers
   */
  public int workers() {
    return engine.workers();
  }

  /**
   * The process ids of the workers running now (a worker being replaced is not listed). The workers
   * a pool starts with are waited for first: {@link Builder#start()} returns once one of them runs,
   * and this method once each of them runs or has failed to start (unless the pool is stopped or
   * broken meanwhile).
   *
   * @return the pids
   */
  public List<Long> workerPids() {
    return engine.workerPids();
  }

  // ---------------------------------------------------------------- ExecutorService

  /**
   * Runs {@code task.call()} in a worker; {@code task} must be {@link Serializable}, else the
   * future fails with {@link java.io.NotSerializableException}.
   *
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  @Override
  public <T> Future<T> submit(Callable<T> task) {
    return engine.submitCall(task, 0);
  }

  /**
   * Runs {@code task.run()} in a worker; {@code task} must be {@link Serializable}, else the future
   * fails with {@link java.io.NotSerializableException}.
   *
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  @Override
  public Future<?> submit(Runnable task) {
    return engine.submitRun(task, null);
  }

  /**
   * Runs {@code task.run()} in a worker; the future's result is {@code result}, which stays in this
   * JVM. {@code task} must be {@link Serializable}.
   *
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  @Override
  public <T> Future<T> submit(Runnable task, T result) {
    return engine.submitRun(task, result);
  }

  /**
   * Runs {@code command.run()} in a worker; a failure is printed to this JVM's standard error, as
   * {@link java.util.concurrent.ThreadPoolExecutor} does for a thread's uncaught exception.
   *
   * @throws java.util.concurrent.RejectedExecutionException after shutdown, or if the pool is
   *     broken
   */
  @Override
  public void execute(Runnable command) {
    Future<?> f = engine.submitRun(command, null);
    ((CompletableFuture<?>) f)
        .whenComplete(
            (v, e) -> {
              if (e != null && !(e instanceof CancellationException)) {
                System.err.println("ProcessPool: a task given to execute() failed:");
                e.printStackTrace();
              }
            });
  }

  @Override
  public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks)
      throws InterruptedException {
    return invokeAll(tasks, Long.MAX_VALUE, TimeUnit.NANOSECONDS);
  }

  @Override
  public <T> List<Future<T>> invokeAll(
      Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException {
    List<Future<T>> futures = new ArrayList<>(tasks.size());
    long deadline = deadline(timeout, unit);
    try {
      for (Callable<T> t : tasks) {
        futures.add(engine.submitCall(t, 0));
      }
      for (Future<T> f : futures) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          f.get(left, TimeUnit.NANOSECONDS);
        } catch (ExecutionException | CancellationException ignored) {
          // the future says so
        } catch (TimeoutException e) {
          break;
        }
      }
    } catch (InterruptedException | RuntimeException e) {
      cancelAll(futures);
      throw e;
    }
    cancelAll(futures); // those not done in time
    return futures;
  }

  /**
   * Runs the tasks and returns the result of one that completed normally; the others are cancelled
   * (a running one by killing its worker, which is replaced).
   */
  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks)
      throws InterruptedException, ExecutionException {
    try {
      return invokeAny(tasks, Long.MAX_VALUE, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("no time limit", e);
    }
  }

  /**
   * Runs the tasks and returns the result of one that completed normally within the time; the
   * others are cancelled (a running one by killing its worker, which is replaced).
   */
  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException, ExecutionException, TimeoutException {
    if (tasks.isEmpty()) {
      throw new IllegalArgumentException("no tasks");
    }
    long deadline = deadline(timeout, unit);
    LinkedBlockingQueue<Future<T>> done = new LinkedBlockingQueue<>();
    List<Future<T>> futures = new ArrayList<>(tasks.size());
    try {
      for (Callable<T> t : tasks) {
        Future<T> f = engine.submitCall(t, 0);
        futures.add(f);
        ((CompletableFuture<T>) f).whenComplete((v, e) -> done.add(f));
      }
      ExecutionException last = null;
      for (int i = 0; i < futures.size(); i++) {
        Future<T> f = done.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (f == null) {
          throw new TimeoutException("no task completed within " + timeout + " " + unit);
        }
        try {
          return f.get();
        } catch (ExecutionException e) {
          last = e;
        } catch (CancellationException e) {
          last = new ExecutionException(e);
        }
      }
      throw last;
    } finally {
      for (Future<T> f : futures) {
        f.cancel(true);
      }
    }
  }

  /**
   * Refuses new tasks; the queued ones run, then the workers exit. Returns at once (see {@link
   * #awaitTermination}).
   */
  @Override
  public void shutdown() {
    engine.shutdown();
  }

  /**
   * Refuses new tasks, kills the workers and returns the tasks that never started. The futures of
   * running tasks fail with {@link WorkerDiedException}; those of the returned tasks are cancelled.
   * Each returned {@link Runnable} runs its task in the calling thread, in this JVM.
   *
   * @return the tasks that never started, in queue order
   */
  @Override
  public List<Runnable> shutdownNow() {
    return engine.shutdownNow();
  }

  @Override
  public boolean isShutdown() {
    return engine.isShutdown();
  }

  /** True once the pool is shut down, every task is done and every worker has been reaped. */
  @Override
  public boolean isTerminated() {
    return engine.isTerminated();
  }

  /** Waits until {@link #isTerminated()} or the time runs out. */
  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return engine.awaitTermination(timeout, unit);
  }

  /**
   * {@link #shutdown()}, then waits for termination; if interrupted while waiting, {@link
   * #shutdownNow()} and the interrupt status is kept (as {@link ExecutorService#close()}). Called
   * on one of the pool's own threads (in a callback of one of its futures, which run on the thread
   * that completes them), it does not wait, since the wait would never end.
   */
  @Override
  public void close() {
    boolean interrupted = false;
    shutdown();
    if (engine.onPoolThread()) {
      return; // a callback of one of this pool's futures: waiting here would wait for itself
    }
    while (!isTerminated()) {
      try {
        awaitTermination(1, TimeUnit.DAYS);
      } catch (InterruptedException e) {
        if (!interrupted) {
          shutdownNow();
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
