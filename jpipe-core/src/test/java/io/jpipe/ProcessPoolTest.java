package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.NotSerializableException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ProcessPool: an ExecutorService of worker JVMs that survives its workers. Tests that do not end
 * workers share one pool; the others start their own and check that its workers are gone after
 * close.
 */
class ProcessPoolTest {
  private static ProcessPool shared;

  @TempDir Path dir;

  private final List<ProcessPool> pools = new ArrayList<>();

  private ProcessPool own(ProcessPool pool) {
    pools.add(pool);
    return pool;
  }

  /** A failed test may leave its pool running: stop it. */
  @AfterEach
  void stopPools() {
    for (ProcessPool p : pools) {
      p.shutdownNow();
      p.close();
    }
  }

  @BeforeAll
  static void startShared() throws Exception {
    shared = ProcessPool.builder().workers(2).name("shared").start();
  }

  @AfterAll
  static void closeShared() throws Exception {
    shared.close();
    assertTrue(shared.isTerminated());
    assertNoChildren();
  }

  /** Like TestSupport's, naming the command line of each child left. */
  private static void assertNoChildren() throws Exception {
    try {
      TestSupport.assertNoChildren();
    } catch (AssertionError e) {
      StringBuilder b = new StringBuilder(e.getMessage());
      for (long pid : TestSupport.children().keySet()) {
        b.append("\n")
            .append(pid)
            .append(": ")
            .append(Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' '));
      }
      throw new AssertionError(b.toString(), e);
    }
  }

  private static <T> T get(Future<T> f) throws Exception {
    return f.get(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS);
  }

  private static Throwable causeOf(Future<?> f) throws Exception {
    ExecutionException e = assertThrows(ExecutionException.class, () -> get(f));
    return e.getCause();
  }

  /** Closes the pool and checks that its workers are gone. */
  private static void closeAndCheck(ProcessPool pool, List<Long> pids) throws Exception {
    pool.close();
    assertTrue(pool.isTerminated());
    for (long pid : pids) {
      assertFalse(TestSupport.exists(pid), "worker " + pid + " left behind");
    }
  }

  private void awaitStarted(long count) throws Exception {
    TestSupport.eventually(
        count + " tasks started",
        () -> {
          try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("started-")).count()
                >= count;
          } catch (java.io.IOException e) {
            return false;
          }
        });
  }

  /** Submits a task that blocks until {@link #release()}, and waits until it runs. */
  private Future<Long> blockOne(ProcessPool pool) throws Exception {
    Future<Long> f = pool.submit(PoolTasks::block, dir.toString());
    awaitStarted(1);
    return f;
  }

  private long startedPid() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString())
          .filter(n -> n.startsWith("started-"))
          .mapToLong(n -> Long.parseLong(n.substring(8)))
          .findFirst()
          .orElseThrow();
    }
  }

  private void release() throws Exception {
    Files.writeString(dir.resolve("release"), "");
  }

  // ---------------------------------------------------------------- submitting

  @Test
  void submitTakesFunctionsTasksAndJobs() throws Exception {
    assertEquals(49, get(shared.submit(PoolTasks::square, 7)));
    int k = 6;
    assertEquals(42, get(shared.submit(() -> k * 7)));
    assertNull(get(shared.submit(() -> System.out.print(""))));
    Runnable r = (Runnable & Serializable) () -> {};
    assertEquals("done", get(shared.submit(r, "done")));
    Callable<String> c = (Callable<String> & Serializable) PoolTasks::name;
    assertTrue(get(shared.submit(c)).startsWith("shared-"));
    assertTrue(get(shared.submit(PoolTasks::pidOf, 0)) != ProcessHandle.current().pid());
  }

  @Test
  void compactAndSerializedValuesRoundTrip() throws Exception {
    List<Object> values =
        Arrays.asList(
            null,
            1,
            -5L,
            2.5,
            true,
            false,
            "ascii",
            "ünïcödé ✓ \uD83D\uDE00",
            "lone \uD800 surrogate",
            -0.0,
            Double.NaN,
            Long.MIN_VALUE,
            "",
            new byte[] {1, 2, 3},
            new ArrayList<>(List.of(1, "two", 3.0)),
            List.of(1, 2),
            Map.of("k", 1),
            new java.math.BigInteger("123456789012345678901234567890"));
    for (Object v : values) {
      Object back = get(shared.submit(PoolTasks::echo, v));
      if (v instanceof byte[] b) {
        assertTrue(Arrays.equals(b, (byte[]) back));
      } else {
        assertEquals(v, back);
      }
    }
  }

  @Test
  void mapKeepsInputOrder() throws Exception {
    List<Integer> in = IntStream.range(0, 1000).boxed().toList();
    List<Integer> squares = in.stream().map(x -> x * x).toList();
    assertEquals(squares, shared.map(PoolTasks::square, in, 7));
    assertEquals(squares, shared.map(PoolTasks::square, in));
    assertEquals(squares, shared.map(PoolTasks::square, in, 5000));
    assertEquals(List.of(), shared.map(PoolTasks::square, List.of()));
    assertThrows(IllegalArgumentException.class, () -> shared.map(PoolTasks::square, in, 0));
  }

  @Test
  void mapFailsWithTheFirstFailureInInputOrder() throws Exception {
    List<Integer> in = IntStream.range(0, 100).boxed().toList();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> shared.map(PoolTasks::failOn13, in, 3));
    assertInstanceOf(IllegalArgumentException.class, e.getCause());
    assertEquals("13 is unlucky", e.getCause().getMessage());
    assertEquals(in.subList(0, 13), shared.map(PoolTasks::failOn13, in.subList(0, 13)));
  }

  @Test
  void mapUnorderedStreamsEveryResult() throws Exception {
    List<Integer> in = IntStream.range(0, 500).boxed().toList();
    List<Integer> got;
    try (Stream<Integer> s = shared.mapUnordered(PoolTasks::square, in, 9)) {
      got = new ArrayList<>(s.toList());
    }
    Collections.sort(got);
    assertEquals(in.stream().map(x -> x * x).toList(), got);

    try (Stream<Integer> s = shared.mapUnordered(PoolTasks::failOn13, in, 10)) {
      CompletionException e = assertThrows(CompletionException.class, () -> s.toList());
      assertInstanceOf(IllegalArgumentException.class, e.getCause());
    }
  }

  @Test
  void closingTheUnorderedStreamCancelsWhatHasNotRun() throws Exception {
    ProcessPool pool = own(ProcessPool.builder().workers(1).start());
    List<Long> pids = pool.workerPids();
    Future<Long> blocker = blockOne(pool);
    Stream<Integer> s =
        pool.mapUnordered(PoolTasks::square, IntStream.range(0, 100).boxed().toList(), 1);
    s.close();
    release();
    assertEquals(pids.getFirst(), get(blocker));
    assertEquals(49, get(pool.submit(PoolTasks::square, 7)));
    closeAndCheck(pool, pids);
  }

  @Test
  void invokeAllAndInvokeAny() throws Exception {
    List<Callable<Integer>> tasks = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      int x = i;
      tasks.add((Callable<Integer> & Serializable) () -> x * 10);
    }
    List<Future<Integer>> all = shared.invokeAll(tasks);
    for (int i = 0; i < 10; i++) {
      assertTrue(all.get(i).isDone());
      assertEquals(i * 10, all.get(i).get());
    }
    int any = shared.invokeAny(tasks);
    assertTrue(any % 10 == 0 && any < 100);

    List<Callable<Integer>> failing = new ArrayList<>();
    failing.add((Callable<Integer> & Serializable) () -> PoolTasks.fail("one"));
    failing.add((Callable<Integer> & Serializable) () -> 5);
    assertEquals(5, shared.invokeAny(failing));
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () ->
                shared.invokeAny(
                    List.<Callable<Integer>>of(
                        (Callable<Integer> & Serializable) () -> PoolTasks.fail("only"))));
    assertEquals("only", e.getCause().getMessage());
  }

  @Test
  void virtualThreadsSubmitConcurrently() throws Exception {
    try (var submitters = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Integer>> sums = new ArrayList<>();
      for (int t = 0; t < 50; t++) {
        int base = t * 100;
        sums.add(
            submitters.submit(
                () -> {
                  int sum = 0;
                  List<Future<Integer>> fs = new ArrayList<>();
                  for (int i = 0; i < 20; i++) {
                    fs.add(shared.submit(PoolTasks::square, base + i));
                  }
                  for (Future<Integer> f : fs) {
                    sum += f.get();
                  }
                  return sum;
                }));
      }
      for (int t = 0; t < 50; t++) {
        int expected = 0;
        for (int i = 0; i < 20; i++) {
          expected += (t * 100 + i) * (t * 100 + i);
        }
        assertEquals(expected, get(sums.get(t)));
      }
    }
  }

  // ---------------------------------------------------------------- failures of tasks

  @Test
  void aTasksExceptionComesBackWithTheWorkersStackTrace() throws Exception {
    Throwable cause = causeOf(shared.submit(PoolTasks::fail, "boom"));
    assertInstanceOf(IllegalStateException.class, cause);
    assertEquals("boom", cause.getMessage());
    assertTrue(
        Arrays.stream(cause.getStackTrace())
            .anyMatch(
                e ->
                    e.getClassName().equals(PoolTasks.class.getName())
                        && e.getMethodName().equals("fail")),
        Arrays.toString(cause.getStackTrace()));
    List<Long> before = shared.workerPids();
    assertEquals(16, get(shared.submit(PoolTasks::square, 4)));
    assertEquals(before, shared.workerPids()); // the worker ran on
  }

  @Test
  void anExceptionThatCannotBeSentBecomesRemoteTaskException() throws Exception {
    Throwable cause = causeOf(shared.submit(PoolTasks::failUnsendably, "no way"));
    RemoteTaskException r = assertInstanceOf(RemoteTaskException.class, cause);
    assertEquals(PoolTasks.Unsendable.class.getName(), r.remoteClassName());
    assertTrue(r.getMessage().contains("no way"));
    assertTrue(
        Arrays.stream(r.getStackTrace()).anyMatch(e -> e.getMethodName().equals("failUnsendably")));
  }

  @Test
  void aTaskOrResultThatCannotBeSerializedFailsItsFuture() throws Exception {
    Object unsendable = new Object();
    Callable<Object> notSerializable = () -> unsendable;
    assertInstanceOf(NotSerializableException.class, causeOf(shared.submit(notSerializable)));
    Callable<Object> capturesUnsendable = (Callable<Object> & Serializable) () -> unsendable;
    assertInstanceOf(NotSerializableException.class, causeOf(shared.submit(capturesUnsendable)));
    assertInstanceOf(
        NotSerializableException.class, causeOf(shared.submit(PoolTasks::unsendableResult, 1)));
    assertEquals(9, get(shared.submit(PoolTasks::square, 3)));
  }

  // ---------------------------------------------------------------- settings

  @Test
  void theInitializerRunsOnceInEachWorkerBeforeItsTasks() throws Exception {
    ProcessPool pool = own(ProcessPool.builder().workers(2).initializer(PoolTasks::init).start());
    List<Long> pids = pool.workerPids();
    for (String s : pool.map(PoolTasks::initState, IntStream.range(0, 20).boxed().toList(), 1)) {
      assertEquals("yes 1", s);
    }
    closeAndCheck(pool, pids);
  }

  @Test
  void startReturnsOnceOneWorkerRunsAndAWorkerFailingAfterThatIsReplaced() throws Exception {
    // the second worker waits at its initializer's gate until the test opens it, then halts
    ProcessPool pool =
        own(
            ProcessPool.builder()
                .workers(2)
                .initializer(PoolTasks::gate)
                .jvmOptions("-Dpool.test.gate=" + dir)
                .start());
    assertEquals(9, get(pool.submit(PoolTasks::square, 3))); // the first worker runs it
    var pids = new java.util.concurrent.FutureTask<>(pool::workerPids);
    Thread.ofPlatform().start(pids);
    Thread.sleep(200);
    assertFalse(pids.isDone(), "workerPids() waits for the worker held at its gate");
    Files.createFile(dir.resolve("open"));
    pids.get(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS); // the held worker failed
    TestSupport.eventually("a replacement runs", () -> pool.workerPids().size() == 2);
    assertEquals(
        IntStream.range(0, 40).map(i -> i * i).boxed().toList(),
        pool.map(PoolTasks::square, IntStream.range(0, 40).boxed().toList(), 1));
    assertFalse(pool.isShutdown());
    closeAndCheck(pool, pool.workerPids());
  }

  @Test
  void aFailingInitializerBreaksThePool() throws Exception {
    ProcessPool pool =
        own(ProcessPool.builder().workers(2).initializer(PoolTasks::initFails).start());
    assertTrue(pool.isShutdown()); // start() returned once the initializers had failed
    RejectedExecutionException broken =
        assertThrows(RejectedExecutionException.class, () -> pool.submit(PoolTasks::square, 3));
    assertInstanceOf(IllegalStateException.class, broken.getCause());
    assertEquals("initializer fails on purpose", broken.getCause().getMessage());
    assertTrue(pool.awaitTermination(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
    pool.close();
    TestSupport.eventually(
        "only the shared pool's workers are left",
        () -> TestSupport.children().keySet().equals(new HashSet<>(shared.workerPids())));
  }

  @Test
  void maxTasksPerWorkerReplacesWorkers() throws Exception {
    ProcessPool pool = own(ProcessPool.builder().workers(1).maxTasksPerWorker(2).start());
    List<Long> pids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      pids.add(get(pool.submit(PoolTasks::pidOf, i)));
    }
    Map<Long, Integer> counts = new HashMap<>();
    pids.forEach(p -> counts.merge(p, 1, Integer::sum));
    assertEquals(3, counts.size(), counts.toString());
    counts.values().forEach(n -> assertEquals(2, n));
    closeAndCheck(pool, pids);
  }

  @Test
  void workersAreNamedByThePrefix() throws Exception {
    ProcessPool pool = own(ProcessPool.builder().workers(1).name("cruncher").start());
    assertEquals("cruncher-1", get(pool.submit((ProcessPool.Task<String>) PoolTasks::name)));
    assertEquals(1, pool.workers());
    closeAndCheck(pool, pool.workerPids());
  }

  // ---------------------------------------------------------------- life cycle

  @Test
  void shutdownRunsTheQueuedTasksThenTheWorkersExit() throws Exception {
    ProcessPool pool = own(ProcessPool.create(2));
    List<Long> pids = pool.workerPids();
    List<Future<Integer>> fs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      fs.add(pool.submit(PoolTasks::square, i));
    }
    pool.shutdown();
    assertTrue(pool.isShutdown());
    assertThrows(RejectedExecutionException.class, () -> pool.submit(PoolTasks::square, 1));
    assertTrue(pool.awaitTermination(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
    for (int i = 0; i < 200; i++) {
      assertEquals(i * i, fs.get(i).get());
    }
    closeAndCheck(pool, pids);
  }

  @Test
  void shutdownNowKillsTheWorkersAndReturnsTheTasksThatNeverStarted() throws Exception {
    ProcessPool pool = own(ProcessPool.create(1));
    List<Long> pids = pool.workerPids();
    Future<Long> running = blockOne(pool);
    List<Future<Integer>> waiting = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      waiting.add(pool.submit(PoolTasks::square, i));
    }
    List<Runnable> never = pool.shutdownNow();
    assertEquals(5, never.size());
    waiting.forEach(f -> assertTrue(f.isCancelled()));
    WorkerDiedException died = assertInstanceOf(WorkerDiedException.class, causeOf(running));
    assertEquals(OptionalInt.of(9), died.signal());
    assertTrue(pool.awaitTermination(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
    never.getFirst().run(); // runs the task here
    closeAndCheck(pool, pids);
  }

  @Test
  void aQueuedTaskCanBeCancelled() throws Exception {
    ProcessPool pool = own(ProcessPool.create(1));
    List<Long> pids = pool.workerPids();
    Future<Long> running = blockOne(pool);
    Future<Integer> queued = pool.submit(PoolTasks::square, 5);
    assertTrue(queued.cancel(false));
    assertTrue(queued.isCancelled());
    release();
    assertEquals(pids.getFirst(), get(running));
    assertEquals(36, get(pool.submit(PoolTasks::square, 6)));
    assertEquals(pids, pool.workerPids());
    closeAndCheck(pool, pids);
  }

  @Test
  void cancelWithInterruptStopsARunningTaskByEndingItsWorker() throws Exception {
    ProcessPool pool = own(ProcessPool.create(1));
    List<Long> first = pool.workerPids();
    Future<Long> running = pool.submit(PoolTasks::block, dir.toString());
    Future<Integer> next = pool.submit(PoolTasks::square, 8);
    awaitStarted(1);
    assertTrue(running.cancel(true));
    assertThrows(CancellationException.class, () -> get(running));
    assertEquals(64, get(next)); // it ran on the replacement
    List<Long> now = pool.workerPids();
    assertNotEquals(first, now);
    assertFalse(TestSupport.exists(first.getFirst()));
    closeAndCheck(pool, now);
  }

  @Test
  void aTaskThatRunsTooLongIsStopped() throws Exception {
    ProcessPool pool = own(ProcessPool.create(1));
    List<Long> first = pool.workerPids();
    String d = dir.toString();
    Future<Long> slow = pool.submit(() -> PoolTasks.block(d), Duration.ofMillis(300));
    Future<Integer> next = pool.submit(PoolTasks::square, 3);
    Throwable cause = causeOf(slow);
    if (!(cause instanceof TimeoutException)) {
      throw new AssertionError(cause);
    }
    TimeoutException e = (TimeoutException) cause;
    assertEquals("task ran longer than PT0.3S; its worker was stopped", e.getMessage());
    assertEquals(9, get(next));
    assertNotEquals(first, pool.workerPids());
    closeAndCheck(pool, pool.workerPids());
  }

  @Test
  void thePoolsTaskTimeoutAppliesToEveryTask() throws Exception {
    ProcessPool pool =
        own(ProcessPool.builder().workers(1).taskTimeout(Duration.ofMillis(300)).start());
    assertInstanceOf(
        TimeoutException.class, causeOf(pool.submit(PoolTasks::block, dir.toString())));
    assertEquals(4, get(pool.submit(PoolTasks::square, 2)));
    closeAndCheck(pool, pool.workerPids());
  }

  // ---------------------------------------------------------------- worker death

  @Test
  void systemExitInATaskFailsOnlyThatTask() throws Exception {
    ProcessPool pool = own(ProcessPool.create(2));
    List<Future<Integer>> before = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      before.add(pool.submit(PoolTasks::square, i));
    }
    Future<Integer> exits = pool.submit(PoolTasks::exit, 7);
    List<Future<Integer>> after = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      after.add(pool.submit(PoolTasks::square, i));
    }
    WorkerDiedException died = assertInstanceOf(WorkerDiedException.class, causeOf(exits));
    assertEquals(7, died.exitCode());
    assertEquals(OptionalInt.empty(), died.signal());
    for (int i = 0; i < 50; i++) {
      assertEquals(i * i, get(before.get(i)));
      assertEquals(i * i, get(after.get(i)));
    }
    assertFalse(TestSupport.exists(died.pid()));
    TestSupport.eventually("two workers again", () -> pool.workerPids().size() == 2);
    closeAndCheck(pool, pool.workerPids());
  }

  @Test
  void aKilledWorkerFailsOnlyItsTaskAndIsReplaced() throws Exception {
    ProcessPool pool = own(ProcessPool.create(2));
    Future<Long> victim = blockOne(pool);
    List<Future<Integer>> others = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      others.add(pool.submit(PoolTasks::square, i));
    }
    long pid = startedPid();
    assertTrue(pool.workerPids().contains(pid));
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    WorkerDiedException died = assertInstanceOf(WorkerDiedException.class, causeOf(victim));
    assertEquals(pid, died.pid());
    assertEquals(-9, died.exitCode());
    assertEquals(OptionalInt.of(9), died.signal());
    for (int i = 0; i < 100; i++) {
      assertEquals(i * i, get(others.get(i)));
    }
    assertEquals(
        IntStream.range(0, 50).map(x -> x * x).boxed().toList(),
        pool.map(PoolTasks::square, IntStream.range(0, 50).boxed().toList(), 4));
    TestSupport.eventually("two workers again", () -> pool.workerPids().size() == 2);
    assertFalse(pool.workerPids().contains(pid));
    closeAndCheck(pool, pool.workerPids());
  }

  @Test
  void runningOutOfMemoryEndsTheWorkerNotThePool() throws Exception {
    ProcessPool pool = own(ProcessPool.builder().workers(1).jvmOptions("-Xmx48m").start());
    WorkerDiedException died =
        assertInstanceOf(
            WorkerDiedException.class, causeOf(pool.submit(PoolTasks::exhaustMemory, 0)));
    assertEquals(3, died.exitCode());
    assertEquals(25, get(pool.submit(PoolTasks::square, 5)));
    closeAndCheck(pool, pool.workerPids());
  }

  @Test
  void aWorkerThatCannotStartIsAProcessStartException() throws Exception {
    assertThrows(
        ProcessStartException.class,
        () -> ProcessPool.builder().workers(2).jvmOptions("-XX:+NoSuchJvmFlag").start());
    TestSupport.eventually(
        "only the shared pool's workers are left",
        () -> TestSupport.children().keySet().equals(new HashSet<>(shared.workerPids())));
  }

  @Test
  void aClosedPoolLeavesNoThreadDescriptorOrProcess() throws Exception {
    own(ProcessPool.builder().workers(2).name("warmup").start()).close(); // load what loads lazily
    int fds = TestSupport.fdCount();
    ProcessPool pool = own(ProcessPool.builder().workers(2).name("leakcheck").start());
    List<Long> pids = pool.workerPids();
    assertEquals(List.of(0, 1, 4, 9), pool.map(PoolTasks::square, List.of(0, 1, 2, 3), 1));
    assertInstanceOf(WorkerDiedException.class, causeOf(pool.submit(PoolTasks::exit, 1)));
    assertEquals(4, get(pool.submit(PoolTasks::square, 2)));
    closeAndCheck(pool, pids);
    TestSupport.eventually(
        "no thread of the pool left",
        () ->
            Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("leakcheck")));
    TestSupport.eventually("descriptors back to " + fds, () -> TestSupport.fdCount() <= fds);
  }

  @Test
  void closeInACallbackOfThePoolsOwnFutureDoesNotWaitForItself() throws Exception {
    ProcessPool pool = own(ProcessPool.create(1));
    List<Long> pids = pool.workerPids();
    java.util.concurrent.CompletableFuture<Boolean> closed =
        new java.util.concurrent.CompletableFuture<>();
    ((java.util.concurrent.CompletableFuture<Integer>) pool.submit(PoolTasks::square, 2))
        .whenComplete(
            (v, e) -> {
              pool.close(); // runs on the thread that completed the future: the pool's
              closed.complete(pool.isShutdown());
            });
    assertTrue(get(closed));
    assertTrue(pool.awaitTermination(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
    closeAndCheck(pool, pids);
  }

  @Test
  void closeIsShutdownAndWait() throws Exception {
    ProcessPool pool = own(ProcessPool.create(1));
    List<Long> pids = pool.workerPids();
    Future<Integer> f = pool.submit(PoolTasks::square, 11);
    pool.close();
    assertEquals(121, f.get());
    assertTrue(pool.isTerminated());
    closeAndCheck(pool, pids);
    ConcurrentLinkedQueue<Long> none = new ConcurrentLinkedQueue<>(pool.workerPids());
    assertTrue(none.isEmpty());
  }
}
