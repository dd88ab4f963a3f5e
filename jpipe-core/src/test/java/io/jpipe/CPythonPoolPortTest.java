package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.PortTasks.Pair;
import io.jpipe.PortTasks.SayWhenError;
import io.jpipe.ProcessPool.Task;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.Serial;
import java.io.Serializable;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Spliterator;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Ports of CPython's pool tests to {@link ProcessPool}: {@code _TestPool}, {@code
 * _TestPoolWorkerErrors}, {@code _TestPoolWorkerLifetime} and the pool case of {@code
 * _TestInitializers} from Lib/test/_test_multiprocessing.py; and from
 * Lib/test/test_concurrent_futures the {@code ExecutorTest} cases (executor.py), {@code
 * ProcessPoolExecutorTest} (test_process_pool.py), {@code ExecutorShutdownTest} (test_shutdown.py),
 * {@code WaitTests} (test_wait.py, through {@code invokeAny}/{@code invokeAll} and {@link
 * Future#state()}), {@code AsCompletedTests} (test_as_completed.py) and {@code
 * ExecutorDeadlockTest} (test_deadlock.py). Each test names its CPython origin; tests from
 * test_concurrent_futures are prefixed {@code futures_}. The class's shared pool (CPython's {@code
 * setUpClass} pool) has 2 workers rather than 4: the tests run on a 2-core machine.
 *
 * <p>Where CPython's executor breaks ({@code BrokenProcessPool}) because a worker died, jpipe fails
 * only the task whose worker died, with {@link WorkerDiedException}: those ports assert that, and
 * that the pool goes on running tasks. CPython's {@code SystemExit} from {@code sys.exit} in a task
 * is a {@code WorkerDiedException} with exit code 1 here ({@code System.exit} ends the JVM).
 *
 * <p>Cases that do not apply, and why:
 *
 * <ul>
 *   <li>{@code _TestPool.test_imap}, {@code test_imap_handle_iterable_exception}: jpipe has no lazy
 *       ordered iterator ({@code map} returns the whole list, {@code mapUnordered} streams); their
 *       ordered-result and iterable-failure halves are {@code test_map} and {@code
 *       test_map_handle_iterable_exception}.
 *   <li>{@code test_map_async_callbacks}, {@code _TestPoolWorkerErrors.test_async_error_callback}:
 *       the pool's futures are plain {@link Future}s, without callbacks.
 *   <li>{@code test_starmap_async}: same as {@code test_starmap} with a future per input (see
 *       {@code test_map_async}).
 *   <li>{@code test_resource_warning}, {@code futures_test_del_shutdown}: Java has no {@code
 *       __del__}; a pool is closed explicitly (its workers are daemon children, which die with this
 *       JVM).
 *   <li>Timing assertions ({@code assertTimingAlmostEqual} in {@code test_async} and {@code
 *       test_async_timeout}, the 0.9 s of {@code test_map_no_failfast}): the tests here must not
 *       assert times (the machine is loaded); the behaviour around them is kept.
 *   <li>{@code test_submit_keyword}: Java has no keyword arguments.
 *   <li>{@code test_max_workers_too_large}, {@code test_sysconf_permission_error}: Windows and
 *       semaphore limits of CPython's implementation.
 *   <li>{@code test_idle_process_reuse_one}, {@code test_idle_process_reuse_multiple}, {@code
 *       test_max_tasks_per_child_defaults_to_spawn_context}, {@code
 *       test_worker_finalization_via_atexit_handler_of_multiprocessing}: CPython starts workers on
 *       demand and has a fork context; jpipe starts all workers in {@code start()} and has no fork.
 *   <li>{@code test_ressources_gced_in_workers}, {@code test_gh105829_...}, {@code
 *       test_broken_process_pool_traceback}, the gh-119592/gh-152967/gh-132969 shutdown races: they
 *       test CPython internals (managers, its wake-up pipe, a broken pool's shared exception, its
 *       executor manager thread).
 *   <li>{@code test_exit_during_result_unpickle_in_result_handler}: jpipe decodes results in the
 *       caller's JVM, so {@code System.exit} there ends the program itself, not a pool thread.
 *   <li>{@code test_interpreter_shutdown}, {@code test_submit_after_interpreter_shutdown}, {@code
 *       test_hang_gh83386}: about the interpreter's exit; a JVM's daemon children die with it
 *       ({@code DaemonTest}).
 *   <li>{@code WaitTests.test_20369}, {@code AsCompletedTests.test_duplicate_futures}: {@code
 *       invokeAll} takes tasks, not futures, so there is no duplicate future to give it.
 *   <li>{@code test_free_reference_yielded_future}, {@code test_correct_timeout_exception_msg}:
 *       about CPython's {@code as_completed} generator itself, not the executor.
 *   <li>{@code _TestInitializers.test_manager_initializer}: managers.
 *   <li>{@code WaitTests.test_first_completed_some_already_completed}, {@code
 *       test_first_exception_some_already_complete}, {@code
 *       test_first_exception_one_already_failed} and the pre-made futures mixed into the other wait
 *       and {@code as_completed} tests: they are futures built in a given state ({@code
 *       create_future}), not the executor's.
 *   <li>The rest of test_future.py: CPython's {@code Future} class itself; the pool's futures are
 *       {@link java.util.concurrent.CompletableFuture}s ({@code test_cancel} is ported).
 *   <li>The thread-pool-only cases ({@code test_pending_calls_race}, {@code
 *       test_cancel_futures_wait_false}, {@code test_threads_terminate}, thread names).
 * </ul>
 */
class CPythonPoolPortTest {
  static ProcessPool pool;
  static Path dir;

  private static final AtomicInteger GATES = new AtomicInteger();

  @BeforeAll
  static void startPool() throws IOException {
    dir = Files.createTempDirectory("jpipe-pool-port");
    pool =
        ProcessPool.builder()
            .workers(2)
            .name("port")
            // a real SIGSEGV (test_crash...) must leave no hs_err file behind and no core dump
            .jvmOptions(
                "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"), "-XX:-CreateCoredumpOnCrash")
            .start();
  }

  @AfterAll
  static void stopPool() throws Exception {
    try {
      if (pool != null) {
        pool.close();
        assertTrue(pool.isTerminated());
      }
      TestSupport.assertNoChildren();
    } finally {
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Files.delete(f);
        }
      }
      Files.delete(dir);
    }
  }

  // ---------------------------------------------------------------- helpers

  /** A new gate (CPython's {@code Event}): a file that a worker waits for. */
  static String gate() {
    return dir.resolve("gate-" + GATES.incrementAndGet()).toString();
  }

  static void open(String gate) throws IOException {
    PortTasks.touch(gate);
  }

  static List<Integer> range(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  static List<Integer> squares(int n) {
    return IntStream.range(0, n).map(i -> i * i).boxed().toList();
  }

  /** What the future failed with, unwrapped from its {@link ExecutionException}. */
  static Throwable failure(Future<?> f) throws Exception {
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> f.get(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    return e.getCause();
  }

  static <T> T value(Future<T> f) throws Exception {
    return f.get(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The future failed because its worker died with {@code exitCode}; returns the exception. */
  static WorkerDiedException died(Future<?> f, int exitCode) throws Exception {
    WorkerDiedException e = assertInstanceOf(WorkerDiedException.class, failure(f));
    assertEquals(exitCode, e.exitCode(), e.toString());
    assertTrue(e.pid() > 0, e.toString());
    return e;
  }

  /** The pool still runs tasks and has all its workers (after a worker was replaced). */
  static void stillWorks(ProcessPool p) throws Exception {
    assertEquals(squares(20), p.map(PortTasks::sqr, range(20), 3));
    TestSupport.eventually("all workers back", () -> p.workerPids().size() == p.workers());
  }

  static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ================================================================ _TestPool

  // _TestPool.test_apply
  @Test
  void test_apply() throws Exception {
    assertEquals(25, value(pool.submit(PortTasks::sqr, 5)));
    // papply(sqr, (), {'x': 3}): no keywords in Java, a task calling sqr(3)
    assertEquals(9, value(pool.submit(() -> PortTasks.sqr(3))));
  }

  // _TestPool.test_map
  @Test
  void test_map() throws Exception {
    assertEquals(squares(10), pool.map(PortTasks::sqr, range(10)));
    assertEquals(squares(100), pool.map(PortTasks::sqr, range(100), 20));
  }

  // _TestPool.test_starmap (a pair per input: Fn takes one argument)
  @Test
  void test_starmap() throws Exception {
    List<Pair> tuples = IntStream.range(0, 10).mapToObj(i -> new Pair(i, 9 - i)).toList();
    assertEquals(tuples.stream().map(PortTasks::mul).toList(), pool.map(PortTasks::mul, tuples));
    List<Pair> more = IntStream.range(0, 100).mapToObj(i -> new Pair(i, 99 - i)).toList();
    assertEquals(more.stream().map(PortTasks::mul).toList(), pool.map(PortTasks::mul, more, 20));
  }

  // _TestPool.test_map_async: the asynchronous form is a future per input
  @Test
  void test_map_async() throws Exception {
    List<Future<Integer>> fs = new ArrayList<>();
    for (int i : range(10)) {
      fs.add(pool.submit(PortTasks::sqr, i));
    }
    List<Integer> got = new ArrayList<>();
    for (Future<Integer> f : fs) {
      got.add(value(f));
    }
    assertEquals(squares(10), got);
  }

  // _TestPool.test_map_unplicklable: an input that cannot be serialized fails the map, no hang
  @Test
  void test_map_unplicklable() throws Exception {
    List<Object> inputs = Collections.nCopies(10, new PortTasks.ErrorAtPickle());
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> pool.map(PortTasks::identity, inputs));
    assertInstanceOf(NotSerializableException.class, e.getCause());
    stillWorks(pool);
  }

  // _TestPool.test_map_chunksize, and ProcessPoolExecutorTest.test_map_chunksize
  @Test
  void test_map_chunksize() throws Exception {
    assertEquals(List.of(), pool.map(PortTasks::sqr, List.of(), 1)); // does not stall
    List<Pair> pairs = IntStream.range(0, 40).mapToObj(i -> new Pair(i % 7, i % 5)).toList();
    List<Long> ref = pairs.stream().map(PortTasks::pow).toList();
    assertEquals(ref, pool.map(PortTasks::pow, pairs, 6));
    assertEquals(ref, pool.map(PortTasks::pow, pairs, 50));
    assertEquals(ref, pool.map(PortTasks::pow, pairs, 40));
    assertThrows(IllegalArgumentException.class, () -> pool.map(PortTasks::pow, pairs, -1));
    assertThrows(IllegalArgumentException.class, () -> pool.map(PortTasks::pow, pairs, 0));
    assertThrows(IllegalArgumentException.class, () -> pool.mapUnordered(PortTasks::pow, pairs, 0));
  }

  // _TestPool.test_map_handle_iterable_exception: the iterable's own exception, as itself
  @Test
  void test_map_handle_iterable_exception() throws Exception {
    assertThrows(
        SayWhenError.class,
        () -> pool.map(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(1, -1), 1));
    // again, make sure it's reentrant
    assertThrows(
        SayWhenError.class,
        () -> pool.map(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(1, -1), 1));
    assertThrows(
        SayWhenError.class,
        () -> pool.map(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(10, 3), 1));
    assertThrows(
        SayWhenError.class, () -> pool.map(PortTasks::sqr, PortTasks.specialIterable(), 1));
    assertThrows(
        SayWhenError.class, () -> pool.map(PortTasks::sqr, PortTasks.specialIterable(), 1));
    stillWorks(pool);
  }

  // _TestPool.test_async (without the timing assertion)
  @Test
  void test_async() throws Exception {
    assertEquals(49, value(pool.submit(() -> PortTasks.sqrAfter(7, 100))));
  }

  // _TestPool.test_async_timeout: get(timeout) gives up; CPython then terminates the pool, here
  // cancel(true) stops the task by killing its worker, which the pool replaces
  @Test
  void test_async_timeout() throws Exception {
    String never = gate();
    Future<Object> res = pool.submit(() -> PortTasks.waitForGate(never));
    assertThrows(TimeoutException.class, () -> res.get(200, TimeUnit.MILLISECONDS));
    assertFalse(res.isDone());
    assertTrue(res.cancel(true));
    assertTrue(res.isCancelled());
    assertThrows(CancellationException.class, res::get);
    stillWorks(pool);
  }

  // _TestPool.test_imap_unordered
  @Test
  void test_imap_unordered() throws Exception {
    try (Stream<Integer> it = pool.mapUnordered(PortTasks::sqr, range(10), 1)) {
      assertEquals(squares(10), it.sorted().toList());
    }
    try (Stream<Integer> it = pool.mapUnordered(PortTasks::sqr, range(1000), 100)) {
      assertEquals(squares(1000), it.sorted().toList());
    }
  }

  // _TestPool.test_imap_unordered_handle_iterable_exception: every task is queued before
  // mapUnordered returns, so the iterable's exception comes from mapUnordered itself
  @Test
  void test_imap_unordered_handle_iterable_exception() throws Exception {
    assertThrows(
        SayWhenError.class,
        () -> pool.mapUnordered(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(1, -1), 1));
    // again, make sure it's reentrant
    assertThrows(
        SayWhenError.class,
        () -> pool.mapUnordered(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(1, -1), 1));
    assertThrows(
        SayWhenError.class,
        () -> pool.mapUnordered(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(10, 3), 1));
    assertThrows(
        SayWhenError.class,
        () -> pool.mapUnordered(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(20, 7), 2));
    stillWorks(pool);
  }

  // _TestPool.test_make_pool
  @Test
  void test_make_pool() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> ProcessPool.create(-1));
    assertThrows(IllegalArgumentException.class, () -> ProcessPool.create(0));
    assertThrows(IllegalArgumentException.class, () -> ProcessPool.builder().workers(0));
    try (ProcessPool p = ProcessPool.create(3)) {
      assertEquals(3, p.workers());
      List<Long> pids = p.workerPids();
      assertEquals(3, new HashSet<>(pids).size(), pids.toString());
      Map<Long, Character> children = TestSupport.children();
      for (long pid : pids) {
        assertTrue(children.containsKey(pid), pid + " is not a child of this JVM: " + children);
      }
    }
  }

  // _TestPool.test_terminate: terminate (shutdownNow) does not wait for 10,000 long tasks
  @Test
  void test_terminate() throws Exception {
    ProcessPool p = ProcessPool.create(3);
    List<Integer> args = Collections.nCopies(10_000, 600_000);
    Stream<Object> result = p.mapUnordered(PortTasks::sleep, args, 1);
    Thread.sleep(200); // give some tasks a chance to start
    List<Runnable> neverStarted = p.shutdownNow();
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    assertTrue(p.isTerminated());
    assertTrue(
        neverStarted.size() >= 10_000 - 3 && neverStarted.size() <= 10_000,
        "never started: " + neverStarted.size());
    // the stream ends with a failure instead of waiting for tasks that will never run: a task
    // killed while running (CompletionException, as a failure) or one cancelled (as Future.get
    // throws it)
    RuntimeException e = assertThrows(RuntimeException.class, () -> result.toList());
    assertTrue(
        e instanceof CancellationException
            || e instanceof CompletionException c && c.getCause() instanceof WorkerDiedException,
        e.toString());
    result.close();
  }

  // _TestPool.test_terminate, with futures: the running ones fail with WorkerDiedException
  // (SIGKILL), the queued ones are cancelled, and nothing is left waiting
  @Test
  void test_terminate_futures() throws Exception {
    ProcessPool p = ProcessPool.create(3);
    List<Future<Object>> fs = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      fs.add(p.submit(PortTasks::sleep, 600_000));
    }
    Thread.sleep(200);
    List<Runnable> neverStarted = p.shutdownNow();
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    int cancelled = 0;
    int died = 0;
    for (Future<Object> f : fs) {
      assertTrue(f.isDone());
      if (f.isCancelled()) {
        cancelled++;
      } else {
        WorkerDiedException e = assertInstanceOf(WorkerDiedException.class, failure(f));
        assertEquals(9, e.signal().orElseThrow(), e.toString());
        died++;
      }
    }
    assertEquals(neverStarted.size(), cancelled);
    assertTrue(died <= 3, "running tasks that failed: " + died);
  }

  // _TestPool.test_empty_iterable
  @Test
  void test_empty_iterable() throws Exception {
    assertEquals(List.of(), pool.map(PortTasks::sqr, List.of()));
    assertEquals(List.of(), pool.map(PortTasks::sqr, List.of(), 1));
    try (Stream<Integer> s = pool.mapUnordered(PortTasks::sqr, List.<Integer>of(), 1)) {
      assertEquals(List.of(), s.toList());
    }
    assertEquals(List.of(), pool.invokeAll(List.<Callable<Integer>>of()));
  }

  // _TestPool.test_context and test_enter; ProcessPoolShutdownTest.test_context_manager_shutdown
  // and test_processes_terminate; ExecutorShutdownTest.test_run_after_shutdown
  @Test
  void test_context() throws Exception {
    List<Long> pids;
    ProcessPool p;
    try (ProcessPool q = ProcessPool.create(2)) {
      p = q;
      pids = q.workerPids();
      assertEquals(squares(10), q.map(PortTasks::sqr, range(10)));
    }
    assertTrue(p.isShutdown());
    assertTrue(p.isTerminated()); // close() waited
    for (long pid : pids) {
      assertFalse(TestSupport.exists(pid), "worker " + pid + " still exists");
    }
    assertThrows(RejectedExecutionException.class, () -> p.map(PortTasks::sqr, range(10)));
    assertThrows(RejectedExecutionException.class, () -> p.submit(PortTasks::sqr, 2));
    assertThrows(RejectedExecutionException.class, () -> p.submit(() -> PortTasks.sqr(2)));
    assertThrows(
        RejectedExecutionException.class, () -> p.mapUnordered(PortTasks::sqr, range(3), 1));
    p.close(); // test_enter: a second close is harmless
    assertTrue(p.awaitTermination(0, TimeUnit.MILLISECONDS));
  }

  // _TestPool.test_traceback, and ProcessPoolExecutorTest.test_traceback
  @Test
  void test_traceback() throws Exception {
    Throwable exc = failure(pool.submit(PortTasks::raiseRuntimeError123));
    assertSame(RuntimeException.class, exc.getClass());
    assertEquals("123", exc.getMessage());
    // the worker's stack trace: the frame that threw, in the worker
    assertEquals("raiseRuntimeError123", exc.getStackTrace()[0].getMethodName());
    assertEquals(PortTasks.class.getName(), exc.getStackTrace()[0].getClassName());
    assertTrue(
        Arrays.stream(exc.getStackTrace())
            .noneMatch(e -> e.getMethodName().equals("test_traceback")),
        "the worker's trace holds this test's frame: " + Arrays.toString(exc.getStackTrace()));
    // the iterable's exception is not made a remote exception
    SayWhenError local =
        assertThrows(
            SayWhenError.class,
            () -> pool.map(PortTasks::sqr, PortTasks.exceptionThrowingGenerator(1, -1), 1));
    assertNull(local.getCause());
    assertTrue(
        Arrays.stream(local.getStackTrace())
            .anyMatch(e -> e.getMethodName().equals("test_traceback")));
  }

  // _TestPool.test_wrapped_exception: the task's exception itself, not a wrapper
  @Test
  void test_wrapped_exception() throws Exception {
    Throwable e = failure(pool.submit(PortTasks::raiseRuntimeErrorFoo));
    assertSame(RuntimeException.class, e.getClass());
    assertEquals("foo", e.getMessage());
  }

  // _TestPool.test_map_no_failfast: a failing map with a 1 MiB exception, then close: no deadlock
  @Test
  void test_map_no_failfast() throws Exception {
    ProcessPool p = ProcessPool.create(2);
    try {
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () -> p.map(PortTasks::raiseLargeValueError, List.of(0, 1)));
      assertInstanceOf(IllegalArgumentException.class, e.getCause());
      assertEquals(1 << 20, e.getCause().getMessage().length());
    } finally {
      Thread.sleep(500);
      p.close();
    }
    assertTrue(p.isTerminated());
  }

  /** CPython's {@code CountedObject}: a value whose copies and originals the test can watch. */
  static final class Counted implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
  }

  // _TestPool.test_release_task_refs: the pool keeps neither the arguments nor the results
  @Test
  void test_release_task_refs() throws Exception {
    assertAllCollected(mapAndLetGo(pool));
  }

  /**
   * Maps {@code identity} over 10 new objects and returns weak references to them and to the copies
   * that came back (in a method of its own, so that no local variable of the test keeps one).
   */
  private static List<WeakReference<Object>> mapAndLetGo(ProcessPool p) throws Exception {
    List<Object> objs = new ArrayList<>();
    List<WeakReference<Object>> refs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      Object o = new Counted();
      objs.add(o);
      refs.add(new WeakReference<>(o));
    }
    List<Object> results = p.map(PortTasks::identity, objs);
    assertEquals(10, results.size());
    for (int i = 0; i < results.size(); i++) {
      assertInstanceOf(Counted.class, results.get(i));
      refs.add(new WeakReference<>(results.get(i))); // the copies that came back
    }
    return refs;
  }

  static void assertAllCollected(List<? extends WeakReference<?>> refs)
      throws InterruptedException {
    TestSupport.eventually(
        "every reference collected",
        () -> {
          System.gc();
          return refs.stream().allMatch(r -> r.get() == null);
        });
  }

  // ================================================================ _TestPoolWorkerErrors

  // _TestPoolWorkerErrors.test_unpickleable_result: the task fails, the workers stay
  @Test
  void test_unpickleable_result() throws Exception {
    List<Long> pids = pool.workerPids();
    for (int iteration = 0; iteration < 20; iteration++) {
      Throwable e = failure(pool.submit(PortTasks::unserializableResult, iteration));
      assertInstanceOf(NotSerializableException.class, e);
    }
    assertEquals(new HashSet<>(pids), new HashSet<>(pool.workerPids()));
  }

  // _TestPoolWorkerErrors.test_unpickleable_result, for an exception (CPython's
  // MaybeEncodingError): a RemoteTaskException with the class name, message and worker's trace
  @Test
  void test_unpickleable_exception() throws Exception {
    RemoteTaskException e =
        assertInstanceOf(
            RemoteTaskException.class, failure(pool.submit(PortTasks::raiseUnserializable, 0)));
    assertEquals(PortTasks.UnserializableError.class.getName(), e.remoteClassName());
    assertTrue(e.getMessage().contains("cannot travel"), e.getMessage());
    assertEquals("raiseUnserializable", e.getStackTrace()[0].getMethodName());
    stillWorks(pool);
  }

  // ================================================================ _TestPoolWorkerLifetime

  // _TestPoolWorkerLifetime.test_pool_worker_lifetime
  @Test
  void test_pool_worker_lifetime() throws Exception {
    try (ProcessPool p = ProcessPool.builder().workers(3).maxTasksPerWorker(10).start()) {
      assertEquals(3, p.workers());
      List<Long> origworkerpids = p.workerPids();
      List<Future<Integer>> results = new ArrayList<>();
      List<Future<Long>> pids = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        results.add(p.submit(PortTasks::sqr, i));
        pids.add(p.submit(PortTasks::pid, i));
      }
      Map<Long, Integer> tasksPerPid = new HashMap<>();
      for (int j = 0; j < results.size(); j++) {
        assertEquals(j * j, value(results.get(j)));
        tasksPerPid.merge(value(pids.get(j)), 1, Integer::sum);
      }
      // 50 of the 100 tasks told their worker: none ran more than 10 tasks
      assertTrue(tasksPerPid.values().stream().allMatch(n -> n <= 10), tasksPerPid.toString());
      TestSupport.eventually("3 workers", () -> p.workerPids().size() == 3);
      List<Long> finalworkerpids = p.workerPids();
      assertFalse(origworkerpids.contains(null));
      assertFalse(finalworkerpids.contains(null));
      assertNotEquals(sorted(origworkerpids), sorted(finalworkerpids));
    }
  }

  static List<Long> sorted(List<Long> l) {
    return l.stream().sorted().toList();
  }

  // _TestPoolWorkerLifetime.test_pool_worker_lifetime_early_close: close() with workers that live
  // one task each, before the tasks are done, does not hang
  @Test
  void test_pool_worker_lifetime_early_close() throws Exception {
    ProcessPool p = ProcessPool.builder().workers(3).maxTasksPerWorker(1).start();
    List<Future<Integer>> results = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      int x = i;
      results.add(p.submit(() -> PortTasks.sqrAfter(x, 300)));
    }
    p.close();
    assertTrue(p.isTerminated());
    for (int j = 0; j < results.size(); j++) {
      assertEquals(j * j, value(results.get(j)));
    }
  }

  // _TestPoolWorkerLifetime.test_pool_maxtasksperchild_invalid (0 means no limit in jpipe)
  @Test
  void test_pool_maxtasksperchild_invalid() {
    assertThrows(IllegalArgumentException.class, () -> ProcessPool.builder().maxTasksPerWorker(-1));
  }

  // ================================================================ _TestInitializers

  // _TestInitializers.test_pool_initializer: the initializer runs once in each worker, before its
  // first task (also in workers that replace others)
  @Test
  void test_pool_initializer() throws Exception {
    try (ProcessPool p =
        ProcessPool.builder()
            .workers(1)
            .initializer(PortTasks::initializer)
            .maxTasksPerWorker(3)
            .start()) {
      Set<Long> pids = new HashSet<>();
      for (int i = 0; i < 7; i++) {
        assertEquals(1, value(p.submit(PortTasks::initializedCount, i)));
        pids.add(value(p.submit(PortTasks::pid, i)));
      }
      assertTrue(pids.size() >= 4, "workers: " + pids); // 14 tasks, 3 per worker
    }
    // and not in this JVM
    assertEquals(0, PortTasks.initialized);
  }

  // concurrent.futures test_init.FailingInitializerMixin.test_initializer: a failing initializer
  // breaks the pool; its tasks and later submissions are rejected with the initializer's failure
  @Test
  void futures_test_failing_initializer() throws Exception {
    ProcessPool p;
    try {
      p = ProcessPool.builder().workers(2).initializer(PortTasks::failingInitializer).start();
    } catch (ProcessStartException | RejectedExecutionException e) {
      // refusing to start is as good: nothing runs, and no worker of it is left
      TestSupport.eventually(
          "only the shared pool's workers",
          () -> new HashSet<>(pool.workerPids()).containsAll(TestSupport.children().keySet()));
      return;
    }
    try {
      Future<Integer> f;
      try {
        f = p.submit(PortTasks::sqr, 2);
      } catch (RejectedExecutionException e) {
        assertInstanceOf(IllegalStateException.class, e.getCause(), e.toString());
        return;
      }
      Throwable e = failure(f);
      assertInstanceOf(RejectedExecutionException.class, e);
      assertInstanceOf(IllegalStateException.class, e.getCause(), e.toString());
      TestSupport.eventually(
          "the pool to be broken",
          () -> {
            try {
              p.submit(PortTasks::sqr, 3);
              return false;
            } catch (RejectedExecutionException r) {
              return true;
            }
          });
    } finally {
      p.shutdownNow();
      assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    }
  }

  // ================================================================ concurrent.futures executor.py

  // ExecutorTest.test_submit
  @Test
  void futures_test_submit() throws Exception {
    assertEquals(256L, value(pool.submit(PortTasks::pow, new Pair(2, 8))));
    assertEquals(256L, value(pool.submit(() -> PortTasks.pow(new Pair(2, 8)))));
  }

  // ExecutorTest.test_map
  @Test
  void futures_test_map() throws Exception {
    List<Pair> pairs = IntStream.range(0, 10).mapToObj(i -> new Pair(i, i)).toList();
    List<Long> ref = pairs.stream().map(PortTasks::pow).toList();
    assertEquals(ref, pool.map(PortTasks::pow, pairs));
    assertEquals(ref, pool.map(PortTasks::pow, pairs, 3));
  }

  // ExecutorTest.test_map_exception: divmod by zero
  @Test
  void futures_test_map_exception() throws Exception {
    List<Pair> args = List.of(new Pair(1, 2), new Pair(1, 3), new Pair(1, 0), new Pair(1, 5));
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> pool.map(PortTasks::divmod, args, 1));
    assertInstanceOf(ArithmeticException.class, e.getCause());
    // the streaming form gives the other results and then the failure
    List<Pair> got = new ArrayList<>();
    try (Stream<Pair> s = pool.mapUnordered(PortTasks::divmod, args, 1)) {
      CompletionException c = assertThrows(CompletionException.class, () -> s.forEach(got::add));
      assertInstanceOf(ArithmeticException.class, c.getCause());
    }
    assertTrue(List.of(new Pair(0, 1), new Pair(0, 1), new Pair(0, 1)).containsAll(got), "" + got);
  }

  // ExecutorTest.test_map_timeout: Java's form is invokeAll with a timeout; the task that did not
  // finish is cancelled (its worker killed and replaced)
  @Test
  void futures_test_map_timeout() throws Exception {
    String never = gate();
    List<Task<Object>> tasks =
        List.of(
            () -> PortTasks.sleep(0), () -> PortTasks.sleep(0), () -> PortTasks.waitForGate(never));
    List<Future<Object>> fs = pool.invokeAll(tasks, 5, TimeUnit.SECONDS);
    assertNull(fs.get(0).get());
    assertNull(fs.get(1).get());
    assertTrue(fs.get(2).isCancelled());
    stillWorks(pool);
  }

  // ExecutorTest.test_shutdown_race_issue12456, and ProcessPoolShutdownTest.test_shutdown_no_wait
  @Test
  void futures_test_shutdown_race_issue12456() throws Exception {
    ProcessPool p = ProcessPool.create(2);
    List<Future<String>> fs = new ArrayList<>();
    for (int i = 0; i < p.workers() + 1; i++) {
      fs.add(p.submit(PortTasks::str, 2));
    }
    p.shutdown(); // returns at once
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    for (Future<String> f : fs) {
      assertEquals("2", f.resultNow());
    }
  }

  /** CPython's {@code MyObject}: a task object whose collection the test watches. */
  static final class MyObject implements Task<Object> {
    @Serial private static final long serialVersionUID = 1L;

    @Override
    public Object call() {
      return null;
    }
  }

  // ExecutorTest.test_no_stale_references: the pool lets go of a task once it is done
  @Test
  void futures_test_no_stale_references() throws Exception {
    MyObject myObject = new MyObject();
    WeakReference<MyObject> ref = new WeakReference<>(myObject);
    Future<Object> f = pool.submit(myObject);
    myObject = null;
    assertNull(value(f));
    f = null; // CPython discards the future: the pool alone must not hold the task
    assertAllCollected(List.of(ref));
  }

  // ExecutorTest.test_max_workers_negative
  @Test
  void futures_test_max_workers_negative() {
    for (int number : new int[] {0, -1}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> ProcessPool.create(number));
      assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
    }
  }

  /** CPython's {@code make_dummy_object}. */
  static Object makeDummyObject(Integer ignored) {
    return new Counted();
  }

  // ExecutorTest.test_free_reference: the result stream keeps no result it has handed out (it may
  // hold the one it handed out last until the next is taken)
  @Test
  void futures_test_free_reference() throws Exception {
    try (Stream<Object> s = pool.mapUnordered(CPythonPoolPortTest::makeDummyObject, range(10), 1)) {
      Spliterator<Object> it = s.spliterator();
      List<WeakReference<Object>> handedOut = new ArrayList<>();
      while (it.tryAdvance(obj -> handedOut.add(new WeakReference<>(obj)))) {
        if (handedOut.size() > 1) {
          assertAllCollected(handedOut.subList(0, handedOut.size() - 1));
        }
      }
      assertEquals(10, handedOut.size());
      assertAllCollected(handedOut); // the stream is exhausted but not closed yet
    }
  }

  // ================================================================ test_process_pool.py

  /** Writes this worker's pid to {@code pidFile}, then waits for {@code gate}. */
  static Object pidThenWait(String pidFile, String gate) throws Exception {
    Path tmp = Path.of(pidFile + ".tmp");
    Files.writeString(tmp, Long.toString(ProcessHandle.current().pid()));
    Files.move(tmp, Path.of(pidFile)); // atomically, so the reader sees it whole
    return PortTasks.waitForGate(gate);
  }

  /** Runs {@link #pidThenWait} in {@code p} and returns its future and the worker's pid. */
  static Map.Entry<Future<Object>, Long> runningTaskAndPid(ProcessPool p, String gate)
      throws Exception {
    String pidFile = dir.resolve("pid-" + GATES.incrementAndGet()).toString();
    Future<Object> f = p.submit(() -> pidThenWait(pidFile, gate));
    TestSupport.eventually("the task to start", () -> Files.exists(Path.of(pidFile)));
    return Map.entry(f, Long.parseLong(Files.readString(Path.of(pidFile))));
  }

  /**
   * Sends {@code signal} to {@code pid} if it is a live child of this JVM, through a pidfd, so that
   * a reused pid is never signalled. Returns whether it was sent.
   */
  static boolean signalChild(long pid, int signal) throws IOException {
    Scratch s = Scratch.get();
    int pidfd = Libc.pidfdOpen(s.errno, (int) pid, 0);
    if (pidfd < 0) {
      return false; // gone already
    }
    try {
      String stat;
      try {
        stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      } catch (IOException gone) {
        return false;
      }
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      if (Long.parseLong(f[1]) != ProcessHandle.current().pid() || f[0].equals("Z")) {
        return false; // not ours (any more), or already dead
      }
      // the pidfd names the process checked above even if its pid is reused meanwhile
      return Libc.pidfdSendSignal(s.errno, pidfd, signal) == 0;
    } finally {
      Libc.close(s.errno, pidfd);
    }
  }

  // ProcessPoolExecutorTest.test_killed_child: CPython's pool breaks; here only that task fails
  @Test
  void futures_test_killed_child() throws Exception {
    Map.Entry<Future<Object>, Long> running = runningTaskAndPid(pool, gate());
    assertTrue(signalChild(running.getValue(), Linux.SIGTERM));
    WorkerDiedException e = assertInstanceOf(WorkerDiedException.class, failure(running.getKey()));
    assertEquals(running.getValue(), e.pid());
    assertEquals(15, e.signal().orElseThrow(), e.toString());
    // submitting other jobs works
    assertEquals(256L, value(pool.submit(PortTasks::pow, new Pair(2, 8))));
    stillWorks(pool);
  }

  // ProcessPoolExecutorTest.test_traceback_when_child_process_terminates_abruptly
  @Test
  void futures_test_traceback_when_child_process_terminates_abruptly() throws Exception {
    WorkerDiedException e = died(pool.submit(PortTasks::halt, 99), 99);
    assertTrue(e.signal().isEmpty());
    assertTrue(e.getMessage().contains("99"), e.getMessage());
    stillWorks(pool);
  }

  // ProcessPoolExecutorTest.test_saturation: no more workers than asked for, however many wait
  @Test
  void futures_test_saturation() throws Exception {
    String sem = gate();
    List<Future<Object>> fs = new ArrayList<>();
    for (int i = 0; i < 15 * pool.workers(); i++) {
      fs.add(pool.submit(PortTasks::waitForGate, sem));
    }
    Thread.sleep(200);
    assertEquals(pool.workers(), pool.workerPids().size());
    assertTrue(TestSupport.children().size() <= pool.workers(), "" + TestSupport.children());
    open(sem);
    for (Future<Object> f : fs) {
      assertNull(value(f));
    }
  }

  // ProcessPoolExecutorTest.test_max_tasks_per_child
  @Test
  void futures_test_max_tasks_per_child() throws Exception {
    try (ProcessPool p = ProcessPool.builder().workers(1).maxTasksPerWorker(3).start()) {
      long originalPid = value(p.submit(PortTasks::pid, 1));
      assertEquals(originalPid, value(p.submit(PortTasks::pid, 2)));
      assertEquals(originalPid, value(p.submit(PortTasks::pid, 3)));
      long newPid = value(p.submit(PortTasks::pid, 4));
      assertNotEquals(originalPid, newPid);
      TestSupport.eventually("one worker", () -> p.workerPids().equals(List.of(newPid)));
      assertFalse(TestSupport.children().containsKey(originalPid), "the old worker was reaped");
    }
  }

  // ProcessPoolExecutorTest.test_max_tasks_per_child_pending_tasks_gh115634
  @Test
  void futures_test_max_tasks_per_child_pending_tasks_gh115634() throws Exception {
    int[][] cases = {{1, 2, 6}, {2, 2, 8}};
    for (int[] c : cases) {
      try (ProcessPool p = ProcessPool.builder().workers(c[0]).maxTasksPerWorker(c[1]).start()) {
        List<Future<Integer>> fs = new ArrayList<>();
        for (int i = 0; i < c[2]; i++) {
          fs.add(p.submit(PortTasks::mul, new Pair(i, 2)));
        }
        for (int i = 0; i < c[2]; i++) {
          assertEquals(i * 2, value(fs.get(i)));
        }
      }
    }
  }

  // ================================================================ test_shutdown.py

  // ExecutorShutdownTest.test_hang_issue12364
  @Test
  void futures_test_hang_issue12364() throws Exception {
    ProcessPool p = ProcessPool.create(2);
    List<Future<Object>> fs = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      fs.add(p.submit(PortTasks::sleep, 20));
    }
    p.shutdown();
    for (Future<Object> f : fs) {
      assertNull(value(f));
    }
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
  }

  // ExecutorShutdownTest.test_cancel_futures: shutdown(cancel_futures=True) is shutdownNow()
  @Test
  void futures_test_cancel_futures() throws Exception {
    ProcessPool p = ProcessPool.create(2);
    List<Future<Object>> fs = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      fs.add(p.submit(PortTasks::sleep, 100));
    }
    List<Runnable> neverStarted = p.shutdownNow();
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    List<Future<Object>> cancelled = fs.stream().filter(Future::isCancelled).toList();
    assertEquals(neverStarted.size(), cancelled.size());
    assertTrue(cancelled.size() > 20, "cancelled: " + cancelled.size());
    for (Future<Object> f : fs) {
      assertTrue(f.isDone());
      if (!f.isCancelled() && f.state() == Future.State.FAILED) {
        // running when the workers were killed
        assertInstanceOf(WorkerDiedException.class, f.exceptionNow());
      }
    }
  }

  // ExecutorShutdownTest.test_hang_gh94440: a task cancelled right before shutdown
  @Test
  void futures_test_hang_gh94440() throws Exception {
    ProcessPool p = ProcessPool.create(1);
    value(p.submit(PortTasks::sqr, 1));
    p.submit(PortTasks::sqr, 2).cancel(false);
    p.close(); // returns
    assertTrue(p.isTerminated());
  }

  // ================================================================ test_wait.py, as_completed

  // WaitTests.test_first_completed: the Java form is invokeAny, which cancels the others
  @Test
  void futures_test_first_completed() throws Exception {
    String never = gate();
    List<Task<Object>> tasks =
        List.of(() -> PortTasks.mul(new Pair(21, 2)), () -> PortTasks.waitForGate(never));
    assertEquals(42, pool.invokeAny(tasks));
    stillWorks(pool);
  }

  // invokeAny when every task fails: ExecutionException (CPython's wait gives all in `done`)
  @Test
  void futures_test_first_completed_all_failed() throws Exception {
    List<Task<Object>> tasks =
        List.of(() -> PortTasks.divmod(new Pair(1, 0)), () -> PortTasks.divmod(new Pair(2, 0)));
    ExecutionException e = assertThrows(ExecutionException.class, () -> pool.invokeAny(tasks));
    assertInstanceOf(ArithmeticException.class, e.getCause());
  }

  // WaitTests.test_first_exception: when the failing task is done, the waiting one is not
  @Test
  void futures_test_first_exception() throws Exception {
    String event1 = gate();
    String event2 = gate();
    Future<Integer> future1 = pool.submit(PortTasks::mul, new Pair(2, 21));
    Future<Object> future2 = pool.submit(PortTasks::waitThenRaise, event1);
    Future<Object> future3 = pool.submit(PortTasks::waitForGate, event2);
    try {
      assertEquals(42, value(future1));
      open(event1);
      assertInstanceOf(IllegalStateException.class, failure(future2));
      assertEquals(Future.State.SUCCESS, future1.state());
      assertEquals(Future.State.FAILED, future2.state());
      assertFalse(future3.isDone());
    } finally {
      open(event1);
      open(event2);
    }
    assertNull(value(future3));
  }

  // WaitTests.test_all_completed: invokeAll
  @Test
  void futures_test_all_completed() throws Exception {
    List<Task<Object>> tasks =
        List.of(() -> PortTasks.divmod(new Pair(2, 0)), () -> PortTasks.mul(new Pair(2, 21)));
    List<Future<Object>> fs = pool.invokeAll(tasks);
    assertTrue(fs.stream().allMatch(Future::isDone));
    assertInstanceOf(ArithmeticException.class, fs.get(0).exceptionNow());
    assertEquals(42, fs.get(1).resultNow());
  }

  // WaitTests.test_timeout: invokeAll with a timeout cancels what did not finish
  @Test
  void futures_test_timeout() throws Exception {
    String event = gate();
    List<Task<Object>> tasks = List.of(() -> PortTasks.waitForGate(event));
    List<Future<Object>> fs = pool.invokeAll(tasks, 50, TimeUnit.MILLISECONDS);
    assertTrue(fs.get(0).isCancelled());
    open(event);
    stillWorks(pool);
  }

  // AsCompletedTests.test_no_timeout: futures complete, in any order, each once
  @Test
  void futures_test_as_completed_no_timeout() throws Exception {
    Future<Integer> future1 = pool.submit(PortTasks::mul, new Pair(2, 21));
    Future<Integer> future2 = pool.submit(PortTasks::mul, new Pair(7, 6));
    Future<Pair> failed = pool.submit(PortTasks::divmod, new Pair(1, 0));
    List<Future<?>> all = List.of(future1, future2, failed);
    List<Future<?>> completed = new ArrayList<>();
    TestSupport.eventually(
        "all completed",
        () -> {
          for (Future<?> f : all) {
            if (f.isDone() && !completed.contains(f)) {
              completed.add(f);
            }
          }
          return completed.size() == all.size();
        });
    assertEquals(new HashSet<>(all), new HashSet<>(completed));
    assertEquals(42, future1.resultNow());
    assertEquals(42, future2.resultNow());
    assertInstanceOf(ArithmeticException.class, failed.exceptionNow());
  }

  // AsCompletedTests.test_future_times_out
  @Test
  void futures_test_future_times_out() throws Exception {
    for (long timeout : new long[] {0, 100}) {
      String event = gate();
      Future<Object> future = pool.submit(PortTasks::waitForGate, event);
      assertThrows(TimeoutException.class, () -> future.get(timeout, TimeUnit.MILLISECONDS));
      assertFalse(future.isDone());
      open(event);
      assertNull(value(future));
    }
  }

  // test_future.py FutureTests.test_cancel: a queued task cancels; a running one too, by ending
  // its worker, which the pool replaces
  @Test
  void futures_test_cancel() throws Exception {
    String event = gate();
    Map.Entry<Future<Object>, Long> running = runningTaskAndPid(pool, event);
    List<Future<Object>> busy = new ArrayList<>();
    for (int i = 1; i < pool.workers(); i++) {
      busy.add(pool.submit(PortTasks::waitForGate, event));
    }
    Future<Integer> queued = pool.submit(PortTasks::sqr, 3);
    assertTrue(queued.cancel(false));
    assertTrue(queued.isCancelled());
    assertTrue(queued.isDone());
    assertThrows(CancellationException.class, queued::get);
    assertEquals(Future.State.CANCELLED, queued.state());

    long pid = running.getValue();
    assertTrue(running.getKey().cancel(true));
    assertTrue(running.getKey().isCancelled());
    assertThrows(CancellationException.class, running.getKey()::get);
    TestSupport.eventually(
        "the cancelled task's worker to be gone",
        () -> !pool.workerPids().contains(pid) && !TestSupport.exists(pid));
    open(event);
    for (Future<Object> f : busy) {
      assertNull(value(f));
    }
    stillWorks(pool);
  }

  // ================================================================ test_deadlock.py

  // ExecutorDeadlockTest.test_error_at_task_pickle
  @Test
  void futures_test_error_at_task_pickle() throws Exception {
    Throwable e = failure(pool.submit(PortTasks::identity, new PortTasks.ErrorAtPickle()));
    assertInstanceOf(NotSerializableException.class, e);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_exit_at_task_unpickle
  @Test
  void futures_test_exit_at_task_unpickle() throws Exception {
    died(pool.submit(PortTasks::identity, new PortTasks.ExitAtUnpickle()), 1);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_error_at_task_unpickle
  @Test
  void futures_test_error_at_task_unpickle() throws Exception {
    Throwable e = failure(pool.submit(PortTasks::identity, new PortTasks.ErrorAtUnpickle()));
    assertInstanceOf(InvalidObjectException.class, e);
    assertEquals("Error in unpickle", e.getMessage());
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_crash_at_task_unpickle
  @Test
  void futures_test_crash_at_task_unpickle() throws Exception {
    died(pool.submit(PortTasks::identity, new PortTasks.CrashAtUnpickle()), -9);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_crash_during_func_exec_on_worker: a real SIGSEGV; the JVM writes its
  // error report (into the test's directory) and exits with 1 (no core dump asked for)
  @Test
  void futures_test_crash_during_func_exec_on_worker() throws Exception {
    WorkerDiedException e =
        assertInstanceOf(WorkerDiedException.class, failure(pool.submit(PortTasks::crash, 0)));
    assertNotEquals(0, e.exitCode(), e.toString());
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_exit_during_func_exec_on_worker (SystemExit: exit code 1)
  @Test
  void futures_test_exit_during_func_exec_on_worker() throws Exception {
    WorkerDiedException e = died(pool.submit(PortTasks::exit1), 1);
    assertTrue(e.signal().isEmpty());
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_error_during_func_exec_on_worker
  @Test
  void futures_test_error_during_func_exec_on_worker() throws Exception {
    assertInstanceOf(RuntimeException.class, failure(pool.submit(PortTasks::raiseRuntimeErrorFoo)));
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_crash_during_result_pickle_on_worker
  @Test
  void futures_test_crash_during_result_pickle_on_worker() throws Exception {
    died(pool.submit(PortTasks::returnInstance, PortTasks.CrashAtPickle.class.getName()), -9);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_exit_during_result_pickle_on_worker
  @Test
  void futures_test_exit_during_result_pickle_on_worker() throws Exception {
    died(pool.submit(PortTasks::returnInstance, PortTasks.ExitAtPickle.class.getName()), 1);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_error_during_result_pickle_on_worker
  @Test
  void futures_test_error_during_result_pickle_on_worker() throws Exception {
    Throwable e =
        failure(
            pool.submit(PortTasks::returnInstance, PortTasks.ErrorAtPickleResult.class.getName()));
    assertInstanceOf(NotSerializableException.class, e);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_error_during_result_unpickle_in_result_handler
  @Test
  void futures_test_error_during_result_unpickle_in_result_handler() throws Exception {
    Throwable e =
        failure(
            pool.submit(
                PortTasks::returnInstance, PortTasks.ErrorAtUnpickleResult.class.getName()));
    assertInstanceOf(InvalidObjectException.class, e);
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_error_during_result_unpickle_in_result_handler, with an unchecked
  // exception from readObject (as any Java class may throw): the future fails, nothing hangs
  @Test
  void futures_test_runtime_error_during_result_unpickle_in_result_handler() throws Exception {
    Throwable e =
        failure(
            pool.submit(
                PortTasks::returnInstance, PortTasks.RuntimeErrorAtUnpickleResult.class.getName()));
    assertInstanceOf(IllegalStateException.class, e);
    assertEquals("Error in unpickle", e.getMessage());
    stillWorks(pool);
  }

  // ExecutorDeadlockTest.test_exit_at_task_unpickle, with a task ahead of it in the worker's
  // pipeline (jpipe sends a worker tasks ahead of their results): the worker dies decoding the
  // second task, and only that task may fail, not the one before it
  @Test
  void futures_test_exit_at_task_unpickle_behind_another_task() throws Exception {
    try (ProcessPool p = ProcessPool.create(1)) {
      String g = gate();
      Map.Entry<Future<Object>, Long> first = runningTaskAndPid(p, g);
      Future<Integer> innocent = p.submit(PortTasks::sqr, 2);
      Future<Object> exits = p.submit(PortTasks::identity, new PortTasks.ExitAtUnpickle());
      Thread.sleep(200); // both on their way to the worker while it runs the first
      open(g);
      assertNull(value(first.getKey()));
      assertEquals(4, value(innocent), "the task before the one that killed the worker");
      died(exits, 1);
      stillWorks(p);
    }
  }

  // ExecutorDeadlockTest.test_shutdown_deadlock: a worker that dies after shutdown()
  @Test
  void futures_test_shutdown_deadlock() throws Exception {
    ProcessPool p = ProcessPool.create(2);
    Future<Object> f = p.submit(PortTasks::crashAfter, 100);
    p.shutdown();
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
    died(f, -9);
  }

  // ExecutorDeadlockTest.test_shutdown_deadlock_pickle
  @Test
  void futures_test_shutdown_deadlock_pickle() throws Exception {
    ProcessPool p = ProcessPool.create(2);
    assertEquals(42, value(p.submit(PortTasks::identity, 42)));
    Future<Object> f = p.submit(PortTasks::identity, new PortTasks.ErrorAtPickle());
    p.shutdown();
    assertInstanceOf(NotSerializableException.class, failure(f));
    assertTrue(p.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
  }

  // ExecutorDeadlockTest.test_crash_big_data: workers die while a big argument is on its way (or
  // just arrived); each of those tasks fails alone and the pool goes on
  @Test
  void futures_test_crash_big_data() throws Exception {
    byte[] data = new byte[(4 << 20) + 1]; // support.PIPE_MAX_SIZE
    Arrays.fill(data, (byte) 'a');
    List<Future<Object>> fs = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      fs.add(pool.submit(PortTasks::crashWithData, data));
    }
    for (Future<Object> f : fs) {
      died(f, -9);
    }
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> pool.map(PortTasks::crashWithData, Collections.nCopies(3, data), 1));
    assertInstanceOf(WorkerDiedException.class, e.getCause());
    stillWorks(pool);
  }
}
