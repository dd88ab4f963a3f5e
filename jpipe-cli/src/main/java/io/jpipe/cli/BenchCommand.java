package io.jpipe.cli;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import io.jpipe.ProcessEvent;
import io.jpipe.ProcessPool;
import io.jpipe.ProcessQueue;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jpipe bench}: the workload of {@code bench/c_limit.c} and {@code bench/py_pipe_bench.py},
 * between this JVM and a child JVM over {@code Pipe.open()} (a socketpair), with the same JSON
 * keys; and that of {@code bench/py_queue_bench.py} (a queue of 64-byte items from the child to
 * this JVM, an event round trip between the two) with its keys.
 *
 * <p>Methodology, as in the baselines: each figure is the median of {@code REPS} runs; a round-trip
 * figure is the time of the whole loop divided by its length; a one-way figure is the time from the
 * first send to the receipt of the peer's single acknowledgement. Unlike the baselines, one child
 * JVM serves every phase, and each phase is warmed up first (the JIT compiles the loops on both
 * sides), since a fresh JVM would measure the interpreter. Latency percentiles come from a separate
 * run of the same length with each round trip timed on its own. The queue and event figures follow
 * {@code py_queue_bench.py}: items per second from the first item taken to the sentinel, and the
 * median of round trips each timed on its own. The pool figures follow {@code py_pool_bench.py}: a
 * {@link ProcessPool} of 2 workers, 10,000 tasks squaring an int, submitted one at a time ({@code
 * pool_tasks_per_s}) or through {@code map} in chunks of 100 ({@code pool_map_tasks_per_s}, after
 * {@link #POOL_WARM_MAPS} warm-up maps, the first reported as {@code pool_map_first_tasks_per_s}),
 * each run after one warm-up task and checked; and a new pool of 2 workers to its first result,
 * with warm spares ready ({@code pool_start_ms}, CPython's forkserver) and spawned ({@code
 * pool_start_spawn_ms}).
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Measures jpipe between this JVM and a child JVM over a socketpair: the workload and JSON",
      "keys of bench/c_limit.c and bench/py_pipe_bench.py, so the three compare as ratios",
      "(bench/compare runs all three); and a ProcessQueue and a ProcessEvent between the two, as",
      "bench/py_queue_bench.py measures CPython's Queue and Event; and a ProcessPool of 2 worker",
      "JVMs, as bench/py_pool_bench.py measures CPython's pools. Progress goes to stderr, the",
      "result to stdout."
    })
final class BenchCommand implements Callable<Integer> {
  @Option(
      names = "--json",
      description =
          "Print exactly one JSON line (the baselines' keys and more) instead of a table.")
  boolean json;

  @Option(
      names = "--quick",
      description = "About ten times fewer messages: a sanity run of a few seconds, not a measure.")
  boolean quick;

  @Option(
      names = "--spawn-reps",
      paramLabel = "N",
      description = "Child JVM starts timed for spawn_ms (default 10, or 3 with --quick).")
  Integer spawnReps;

  @Option(
      names = "--b2b-starts",
      paramLabel = "N",
      description =
          "Child starts in a row, per start method, for spawn_b2b_ms and spawn_warm_b2b_ms"
              + " (default 20, or 4 with --quick).")
  Integer b2bStarts;

  /** How much to run. The baselines' values are {@link #FULL}. */
  record Sizes(
      int nRtt,
      int nSmall,
      int nBulk,
      int reps,
      int spawnReps,
      int b2bStarts,
      int warmRtt,
      int warmSmall,
      int warmBulk,
      int nQueue,
      int warmQueue,
      int nEvent,
      int warmEvent,
      int nPool,
      int warmPool) {
    static final Sizes FULL =
        new Sizes(
            50_000, 300_000, 2_000, 3, 10, 20, 50_000, 30_000, 200, 100_000, 30_000, 2_000, 10_000,
            10_000, 10_000);
    static final Sizes QUICK =
        new Sizes(
            5_000, 30_000, 200, 3, 3, 4, 2_000, 3_000, 20, 10_000, 3_000, 200, 1_000, 1_000, 1_000);

    /**
     * New pools timed per start method: 3, as the baseline, unless fewer child starts are asked.
     */
    int poolStarts() {
      return Math.min(reps, spawnReps);
    }

    /** Round trips at the start of each event run that are not counted (200 in the baseline). */
    int skipEvent() {
      return nEvent / 10;
    }
  }

  private static final int SMALL = 64;
  private static final int BULK = 1 << 20;

  /** Workers of every pool the bench starts, as {@code py_pool_bench.py}'s. */
  static final int POOL_WORKERS = 2;

  /** Inputs per task in {@code pool_map_tasks_per_s}, as {@code py_pool_bench.py}'s chunksize. */
  static final int POOL_CHUNK = 100;

  /**
   * Maps run before {@code pool_map_tasks_per_s} is timed, as the other figures are timed after a
   * warm-up: the JIT compiles the per-chunk code (called 100 times a map) only after several maps.
   * The first of them, on a pool that has only run single tasks, is {@code
   * pool_map_first_tasks_per_s}.
   */
  static final int POOL_WARM_MAPS = 20;

  /**
   * The ring of the shared-memory pipe, per direction: four bulk messages, so that a sender of 1
   * MiB messages is never held up by a ring smaller than its message.
   */
  static final long SHM_RING = 4L << 20;

  /**
   * Timed runs' worth of messages sent before each shared-memory figure is timed: until C2 has
   * compiled both ends' loops, the compiler threads take the two CPUs from the spinning ends, and
   * {@code shm_bulk_gbps} climbs from 7 to 28 GB/s over some 16,000 messages (eight runs).
   */
  static final int SHM_WARM_RUNS = 10;

  /** How long an idle child is left alone before its RSS is read. */
  private static final Duration RSS_SETTLE = Duration.ofMillis(300);

  @Override
  public Integer call() throws Exception {
    Sizes base = quick ? Sizes.QUICK : Sizes.FULL;
    int sr = spawnReps != null ? spawnReps : base.spawnReps();
    if (sr < 1) {
      throw new IllegalArgumentException("--spawn-reps must be at least 1");
    }
    int b2b = b2bStarts != null ? b2bStarts : base.b2bStarts();
    if (b2b < 1) {
      throw new IllegalArgumentException("--b2b-starts must be at least 1");
    }
    Sizes sizes =
        new Sizes(
            base.nRtt(),
            base.nSmall(),
            base.nBulk(),
            base.reps(),
            sr,
            b2b,
            base.warmRtt(),
            base.warmSmall(),
            base.warmBulk(),
            base.nQueue(),
            base.warmQueue(),
            base.nEvent(),
            base.warmEvent(),
            base.nPool(),
            base.warmPool());
    warnIfC1Only();
    Progress progress = new Progress(System.err);
    Map<String, Object> result = new Run(sizes, progress).call();
    progress.clear();
    PrintStream out = System.out;
    if (json) {
      out.println(toJson(result));
    } else {
      printTable(out, result, sizes);
    }
    out.flush();
    return 0;
  }

  /** A parent limited to C1 (as {@code ./jpipe} runs other commands) measures the wrong thing. */
  private static void warnIfC1Only() {
    try {
      for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
        if (arg.startsWith("-XX:TieredStopAtLevel=") && !arg.endsWith("=4")) {
          System.err.println(
              "jpipe bench: warning: this JVM runs with "
                  + arg
                  + "; the parent's loops are not compiled by C2");
        }
      }
    } catch (RuntimeException | LinkageError e) {
      // no management module: nothing to check
    }
  }

  // ---------------------------------------------------------------- the measurements

  /** One benchmark run: one peer child for the message phases, fresh children for spawn_ms. */
  static final class Run implements Callable<Map<String, Object>> {
    private final Sizes sizes;
    private final Progress progress;
    private Connection me;
    private ProcessQueue<byte[]> queue;
    private ProcessEvent ping;
    private ProcessEvent pong;

    Run(Sizes sizes, Progress progress) {
      this.sizes = sizes;
      this.progress = progress;
    }

    @Override
    public Map<String, Object> call() throws Exception {
      Map<String, Object> r = new LinkedHashMap<>();
      Histogram bytesHist = new Histogram(3);
      Histogram objHist = new Histogram(3);
      double[] rttBytes;
      double[] rttObj;
      double[] small;
      double[] bulk;
      double[] bulkOffHeap;
      double[] queueRate;
      double[] eventRtt;
      progress.show("starting the peer JVM");
      Pipe pipe = Pipe.open();
      me = pipe.conn1();
      Connection theirs = pipe.conn2();
      queue = ProcessQueue.create();
      ping = ProcessEvent.create();
      pong = ProcessEvent.create();
      ChildProcess peer =
          ChildProcess.of(BenchPeer::serve, theirs, queue, ping, pong)
              .name("jpipe-bench-peer")
              .daemon(true);
      try {
        peer.start();
        theirs.close(); // the child has its own copy: EOF reaches it when we close ours
        int reps = sizes.reps();

        progress.show("rtt_bytes: warm-up");
        rttBytesLoop(sizes.warmRtt());
        rttBytes = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("rtt_bytes: run " + (i + 1) + "/" + reps);
          rttBytes[i] = rttBytesLoop(sizes.nRtt()) / 1e3 / sizes.nRtt();
        }
        progress.show("rtt_bytes: percentiles");
        rttBytesTimed(sizes.nRtt(), bytesHist);

        progress.show("rtt_obj: warm-up");
        rttObjLoop(sizes.warmRtt());
        rttObj = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("rtt_obj: run " + (i + 1) + "/" + reps);
          rttObj[i] = rttObjLoop(sizes.nRtt()) / 1e3 / sizes.nRtt();
        }
        progress.show("rtt_obj: percentiles");
        rttObjTimed(sizes.nRtt(), objHist);

        byte[] smallMsg = new byte[SMALL];
        Arrays.fill(smallMsg, (byte) 'x');
        progress.show("small_msgs: warm-up");
        onewayArrays(smallMsg, sizes.warmSmall());
        small = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("small_msgs: run " + (i + 1) + "/" + reps);
          small[i] = sizes.nSmall() / (onewayArrays(smallMsg, sizes.nSmall()) / 1e9);
        }

        byte[] bulkMsg = new byte[BULK];
        Arrays.fill(bulkMsg, (byte) 'x');
        progress.show("bulk (byte[]): warm-up");
        onewayArrays(bulkMsg, sizes.warmBulk());
        bulk = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("bulk (byte[]): run " + (i + 1) + "/" + reps);
          bulk[i] = gbps(sizes.nBulk(), onewayArrays(bulkMsg, sizes.nBulk()));
        }

        try (Arena arena = Arena.ofConfined()) {
          MemorySegment bulkSeg = arena.allocate(BULK, 64);
          bulkSeg.fill((byte) 'x');
          progress.show("bulk (off-heap): warm-up");
          onewaySegment(bulkSeg, sizes.warmBulk());
          bulkOffHeap = new double[reps];
          for (int i = 0; i < reps; i++) {
            progress.show("bulk (off-heap): run " + (i + 1) + "/" + reps);
            bulkOffHeap[i] = gbps(sizes.nBulk(), onewaySegment(bulkSeg, sizes.nBulk()));
          }
        }

        progress.show("queue: warm-up");
        queueRate(sizes.warmQueue());
        queueRate = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("queue: run " + (i + 1) + "/" + reps);
          queueRate[i] = queueRate(sizes.nQueue());
        }

        progress.show("event: warm-up");
        eventRtt(sizes.warmEvent(), 0);
        eventRtt = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("event: run " + (i + 1) + "/" + reps);
          eventRtt[i] = eventRtt(sizes.nEvent(), sizes.skipEvent());
        }
      } finally {
        me.close();
        stop(peer);
        queue.close();
        ping.close();
        pong.close();
      }

      // The same message phases over a shared-memory pipe, with a peer child of its own.
      Histogram shmBytesHist = new Histogram(3);
      double[] shmRttBytes;
      double[] shmRttObj;
      double[] shmSmall;
      double[] shmBulk;
      progress.show("shm: starting the peer JVM");
      Pipe shmPipe = Pipe.builder().sharedMemory(SHM_RING).open();
      me = shmPipe.conn1();
      Connection shmTheirs = shmPipe.conn2();
      ChildProcess shmPeer =
          ChildProcess.of(BenchPeer::serveMessages, shmTheirs)
              .name("jpipe-bench-shm-peer")
              .daemon(true);
      try {
        shmPeer.start();
        shmTheirs.close();
        int reps = sizes.reps();
        progress.show("shm_rtt_bytes: warm-up");
        rttBytesLoop(SHM_WARM_RUNS * sizes.nRtt());
        shmRttBytes = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("shm_rtt_bytes: run " + (i + 1) + "/" + reps);
          shmRttBytes[i] = rttBytesLoop(sizes.nRtt()) / 1e3 / sizes.nRtt();
        }
        progress.show("shm_rtt_bytes: percentiles");
        rttBytesTimed(sizes.nRtt(), shmBytesHist);

        progress.show("shm_rtt_obj: warm-up");
        rttObjLoop(SHM_WARM_RUNS * sizes.nRtt());
        shmRttObj = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("shm_rtt_obj: run " + (i + 1) + "/" + reps);
          shmRttObj[i] = rttObjLoop(sizes.nRtt()) / 1e3 / sizes.nRtt();
        }

        byte[] smallMsg = new byte[SMALL];
        Arrays.fill(smallMsg, (byte) 'x');
        progress.show("shm_small_msgs: warm-up");
        onewayArrays(smallMsg, SHM_WARM_RUNS * sizes.nSmall());
        shmSmall = new double[reps];
        for (int i = 0; i < reps; i++) {
          progress.show("shm_small_msgs: run " + (i + 1) + "/" + reps);
          shmSmall[i] = sizes.nSmall() / (onewayArrays(smallMsg, sizes.nSmall()) / 1e9);
        }

        try (Arena arena = Arena.ofConfined()) {
          MemorySegment bulkSeg = arena.allocate(BULK, 64);
          bulkSeg.fill((byte) 'x');
          progress.show("shm_bulk (off-heap): warm-up");
          onewaySegment(bulkSeg, SHM_WARM_RUNS * sizes.nBulk());
          shmBulk = new double[reps];
          for (int i = 0; i < reps; i++) {
            progress.show("shm_bulk (off-heap): run " + (i + 1) + "/" + reps);
            shmBulk[i] = gbps(sizes.nBulk(), onewaySegment(bulkSeg, sizes.nBulk()));
          }
        }
      } finally {
        me.close();
        stop(shmPeer);
      }

      // As a user who starts many children would have it: the AOT cache built (in the
      // background by the first child, or up front by prepareSpawn), warm spares ready.
      progress.show("spawn: preparing the AOT cache");
      boolean aot = ChildProcess.prepareSpawn(Duration.ofMinutes(3));
      double[] spawn = new double[sizes.spawnReps()];
      double[] rss = new double[sizes.spawnReps()];
      for (int i = 0; i < spawn.length; i++) {
        progress.show("spawn: child " + (i + 1) + "/" + spawn.length);
        spawnOnce(spawn, rss, i, ChildProcess.StartMethod.SPAWN);
      }
      // Starts in a row, each child gone before the next starts, as a program that runs short
      // tasks one after the other would have it. The warm ones come first with no spare ready
      // (none was asked for yet): the case where a warm start must not wait for a spare.
      double[] spawnB2b = backToBack(ChildProcess.StartMethod.SPAWN);
      double[] warmB2b = backToBack(ChildProcess.StartMethod.WARM);
      double[] warm = new double[sizes.spawnReps()];
      double[] unused = new double[sizes.spawnReps()];
      for (int i = 0; i < warm.length; i++) {
        progress.show("spawn (warm): child " + (i + 1) + "/" + warm.length);
        ChildProcess.prestartWarm(Duration.ofMinutes(2)); // a ready spare, as forkserver has
        spawnOnce(warm, unused, i, ChildProcess.StartMethod.WARM);
      }

      double[][] pool = poolFigures();

      r.put("rtt_bytes_us", round(median(rttBytes), 3));
      r.put("rtt_obj_us", round(median(rttObj), 3));
      r.put("small_msgs_per_s", round(median(small), 1));
      r.put("bulk_gbps", round(median(bulk), 3));
      r.put("spawn_ms", round(median(spawn), 3));
      r.put("bulk_gbps_offheap", round(median(bulkOffHeap), 3));
      r.put("spawn_warm_ms", round(median(warm), 3));
      r.put("spawn_aot_cache", aot);
      r.put("spawn_b2b_ms", round(median(spawnB2b), 3));
      r.put("spawn_b2b_max_ms", round(max(spawnB2b), 3));
      r.put("spawn_warm_b2b_ms", round(median(warmB2b), 3));
      r.put("spawn_warm_b2b_max_ms", round(max(warmB2b), 3));
      putPercentiles(r, "rtt_bytes", bytesHist);
      putPercentiles(r, "rtt_obj", objHist);
      r.put("idle_child_rss_kb", Math.round(median(rss)));
      r.put("queue_items_per_s", round(median(queueRate), 1));
      r.put("event_roundtrip_us", round(median(eventRtt), 3));
      r.put("pool_tasks_per_s", round(median(pool[0]), 1));
      r.put("pool_map_tasks_per_s", round(median(pool[1]), 1));
      r.put("pool_map_first_tasks_per_s", round(pool[4][0], 1));
      r.put("pool_start_ms", round(median(pool[2]), 3));
      r.put("pool_start_spawn_ms", round(median(pool[3]), 3));
      r.put("shm_rtt_bytes_us", round(median(shmRttBytes), 3));
      r.put("shm_rtt_obj_us", round(median(shmRttObj), 3));
      r.put("shm_small_msgs_per_s", round(median(shmSmall), 1));
      r.put("shm_bulk_gbps", round(median(shmBulk), 3));
      putPercentiles(r, "shm_rtt_bytes", shmBytesHist);
      r.put("impl", "jpipe");
      r.put("java", System.getProperty("java.runtime.version", Runtime.version().toString()));
      return r;
    }

    /**
     * The pool figures, as {@code py_pool_bench.py} measures CPython's: submitted tasks per second,
     * mapped tasks per second, and milliseconds from a new pool to its first result, warm and
     * spawned; each a run per repetition.
     */
    private double[][] poolFigures() throws Exception {
      int reps = sizes.reps();
      double[] tasks = new double[reps];
      double[] mapped = new double[reps];
      double first;
      progress.show("pool: starting 2 workers");
      try (ProcessPool pool =
          ProcessPool.builder().workers(POOL_WORKERS).name("jpipe-bench-pool").start()) {
        progress.show("pool_tasks: warm-up");
        poolSubmitRate(pool, sizes.warmPool());
        for (int i = 0; i < reps; i++) {
          progress.show("pool_tasks: run " + (i + 1) + "/" + reps);
          tasks[i] = poolSubmitRate(pool, sizes.nPool());
        }
        progress.show("pool_map: warm-up");
        first = poolMapRate(pool, sizes.warmPool());
        for (int i = 1; i < POOL_WARM_MAPS; i++) {
          poolMapRate(pool, sizes.warmPool());
        }
        for (int i = 0; i < reps; i++) {
          progress.show("pool_map: run " + (i + 1) + "/" + reps);
          mapped[i] = poolMapRate(pool, sizes.nPool());
        }
      }
      // As for spawn_ms and spawn_warm_ms: the AOT cache built, and a warm spare ready (the
      // forkserver running, in CPython's terms) before each warm pool starts.
      progress.show("pool start: preparing the AOT cache");
      // (a --quick run, a sanity check, does not wait for it: it builds in the background)
      boolean quickRun = sizes.nPool() < Sizes.FULL.nPool();
      ProcessPool.builder()
          .workers(POOL_WORKERS)
          .startMethod(ChildProcess.StartMethod.SPAWN)
          .prepare(quickRun ? Duration.ZERO : Duration.ofMinutes(3));
      int starts = sizes.poolStarts();
      double[] warm = new double[starts];
      double[] spawn = new double[starts];
      for (int i = 0; i < starts; i++) {
        progress.show("pool start (warm): run " + (i + 1) + "/" + starts);
        // one ready spare per worker, as a forkserver serves every worker of a CPython pool
        ProcessPool.builder()
            .workers(POOL_WORKERS)
            .startMethod(ChildProcess.StartMethod.WARM)
            .prepare(Duration.ofMinutes(2));
        warm[i] = poolStartMs(ChildProcess.StartMethod.WARM);
      }
      for (int i = 0; i < starts; i++) {
        progress.show("pool start (spawn): run " + (i + 1) + "/" + starts);
        spawn[i] = poolStartMs(ChildProcess.StartMethod.SPAWN);
      }
      return new double[][] {tasks, mapped, warm, spawn, {first}};
    }

    /**
     * One warm-up task, then {@code n} tasks submitted one at a time and their results summed (and
     * checked); tasks per second from the first submission to the last result.
     */
    private static double poolSubmitRate(ProcessPool pool, int n) throws Exception {
      pool.submit(BenchPeer::square, 1).get();
      long t = System.nanoTime();
      List<Future<Integer>> futures = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        futures.add(pool.submit(BenchPeer::square, i));
      }
      long total = 0;
      for (Future<Integer> f : futures) {
        total += f.get();
      }
      long nanos = System.nanoTime() - t;
      if (total != sumOfSquares(n)) {
        throw new IllegalStateException("pool: wrong sum of squares " + total);
      }
      return n / (nanos / 1e9);
    }

    /** One warm-up task, then {@code map} over {@code n} ints in chunks of 100 (checked). */
    private static double poolMapRate(ProcessPool pool, int n) throws Exception {
      pool.submit(BenchPeer::square, 1).get();
      List<Integer> inputs = IntStream.range(0, n).boxed().toList();
      long t = System.nanoTime();
      List<Integer> out = pool.map(BenchPeer::square, inputs, POOL_CHUNK);
      long nanos = System.nanoTime() - t;
      for (int i = 0; i < n; i++) {
        if (out.get(i) != i * i) {
          throw new IllegalStateException("pool map: wrong result at " + i + ": " + out.get(i));
        }
      }
      return n / (nanos / 1e9);
    }

    /** A new pool of 2 workers to its first result, in milliseconds (closing it not counted). */
    private static double poolStartMs(ChildProcess.StartMethod method) throws Exception {
      long t = System.nanoTime();
      double ms;
      try (ProcessPool pool =
          ProcessPool.builder()
              .workers(POOL_WORKERS)
              .startMethod(method)
              .name("jpipe-bench-start")
              .start()) {
        if (pool.submit(BenchPeer::square, 3).get() != 9) {
          throw new IllegalStateException("pool start: 3 squared is not 9");
        }
        ms = (System.nanoTime() - t) / 1e6;
      }
      return ms;
    }

    private static long sumOfSquares(int n) {
      long s = 0;
      for (long i = 0; i < n; i++) {
        s += i * i;
      }
      return s;
    }

    /** Round trips of 8-byte messages; returns the loop's nanoseconds. */
    private long rttBytesLoop(int n) throws IOException {
      me.sendBytes(BenchPeer.command(BenchPeer.ECHO_BYTES, n));
      byte[] msg = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
      long t = System.nanoTime();
      for (int i = 0; i < n; i++) {
        me.sendBytes(msg);
        me.recvBytes();
      }
      return System.nanoTime() - t;
    }

    private void rttBytesTimed(int n, Histogram h) throws IOException {
      me.sendBytes(BenchPeer.command(BenchPeer.ECHO_BYTES, n));
      byte[] msg = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
      for (int i = 0; i < n; i++) {
        long t = System.nanoTime();
        me.sendBytes(msg);
        me.recvBytes();
        h.recordValue(System.nanoTime() - t);
      }
    }

    /** Round trips of {@code send(Integer)}/{@code recv()}; returns the loop's nanoseconds. */
    private long rttObjLoop(int n) throws IOException {
      me.sendBytes(BenchPeer.command(BenchPeer.ECHO_OBJECTS, n));
      long t = System.nanoTime();
      for (int i = 0; i < n; i++) {
        me.send(i);
        me.recv();
      }
      return System.nanoTime() - t;
    }

    private void rttObjTimed(int n, Histogram h) throws IOException {
      me.sendBytes(BenchPeer.command(BenchPeer.ECHO_OBJECTS, n));
      for (int i = 0; i < n; i++) {
        long t = System.nanoTime();
        me.send(i);
        me.recv();
        h.recordValue(System.nanoTime() - t);
      }
    }

    /** {@code n} one-way messages from an array, then the ack; returns nanoseconds. */
    private long onewayArrays(byte[] msg, int n) throws IOException {
      me.sendBytes(BenchPeer.command(BenchPeer.SINK_ARRAYS, n));
      long t = System.nanoTime();
      for (int i = 0; i < n; i++) {
        me.sendBytes(msg);
      }
      me.recvBytes();
      return System.nanoTime() - t;
    }

    /** {@code n} one-way messages from a native segment into the peer's segment; nanoseconds. */
    private long onewaySegment(MemorySegment msg, int n) throws IOException {
      me.sendBytes(BenchPeer.command(BenchPeer.SINK_SEGMENT, n));
      long t = System.nanoTime();
      for (int i = 0; i < n; i++) {
        me.sendBytes(msg);
      }
      me.recvBytes();
      return System.nanoTime() - t;
    }

    /**
     * The peer puts {@code n} 64-byte items and a sentinel (an empty array) on the queue, this JVM
     * takes them: items per second from the first item taken to the sentinel, as {@code
     * py_queue_bench.py} counts.
     */
    private double queueRate(int n) throws IOException, InterruptedException {
      me.sendBytes(BenchPeer.command(BenchPeer.PRODUCE, n));
      byte[] first = queue.take();
      long t = System.nanoTime();
      int got = 1;
      while (queue.take().length != 0) {
        got++;
      }
      long nanos = System.nanoTime() - t;
      if (first.length != BenchPeer.ITEM || got != n) {
        throw new IllegalStateException("queue: " + got + " items of " + n + " arrived");
      }
      return (n - 1) / (nanos / 1e9);
    }

    /**
     * {@code skip + n} event round trips (set ping; the peer waits for it, clears it and sets pong;
     * wait for pong and clear it), each timed on its own; the median of the last {@code n}, in
     * microseconds.
     */
    private double eventRtt(int n, int skip) throws IOException, InterruptedException {
      me.sendBytes(BenchPeer.command(BenchPeer.PONG, skip + n));
      double[] us = new double[Math.max(1, n)];
      for (int i = 0; i < skip + n; i++) {
        long t = System.nanoTime();
        ping.set();
        pong.await();
        pong.clear();
        if (i >= skip) {
          us[i - skip] = (System.nanoTime() - t) / 1e3;
        }
      }
      return median(us);
    }

    /** {@link Sizes#b2bStarts} children started one after the other; each start's milliseconds. */
    private double[] backToBack(ChildProcess.StartMethod method) throws Exception {
      double[] ms = new double[sizes.b2bStarts()];
      String what = method == ChildProcess.StartMethod.WARM ? "warm" : "spawn";
      for (int i = 0; i < ms.length; i++) {
        progress.show(what + " back to back: child " + (i + 1) + "/" + ms.length);
        try (Pipe p = Pipe.open()) {
          long t = System.nanoTime();
          ChildProcess child =
              ChildProcess.of(BenchPeer::hello, p.conn2())
                  .name("jpipe-bench-hello")
                  .daemon(true)
                  .startMethod(method);
          child.start();
          p.conn1().recvBytes();
          ms[i] = (System.nanoTime() - t) / 1e6;
          p.conn2().close();
          p.conn1().close(); // end of file: the child returns
          stop(child);
        }
      }
      return ms;
    }

    /**
     * Start of a child JVM to the first message from it in the parent (CPython's {@code spawn}
     * figure); then, while it waits idle, its resident memory.
     */
    private void spawnOnce(double[] spawnMs, double[] rssKb, int i, ChildProcess.StartMethod method)
        throws Exception {
      try (Pipe p = Pipe.open()) {
        long t = System.nanoTime();
        ChildProcess child =
            ChildProcess.of(BenchPeer::hello, p.conn2())
                .name("jpipe-bench-hello")
                .daemon(true)
                .startMethod(method);
        child.start();
        p.conn1().recvBytes();
        spawnMs[i] = (System.nanoTime() - t) / 1e6;
        try {
          p.conn2().close();
          Thread.sleep(RSS_SETTLE);
          rssKb[i] = vmRssKb(child.pid());
        } finally {
          p.conn1().close(); // end of file: the child returns
          stop(child);
        }
      }
    }
  }

  private static void stop(ChildProcess child) throws IOException, InterruptedException {
    try {
      if (child.isAlive() && !child.join(Duration.ofSeconds(20))) {
        child.kill();
        child.join();
      }
    } catch (IllegalStateException e) {
      // never started
    }
  }

  static long vmRssKb(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        String[] f = line.trim().split("\\s+");
        return Long.parseLong(f[1]);
      }
    }
    throw new IOException("no VmRSS in /proc/" + pid + "/status");
  }

  static double gbps(int n, long nanos) {
    return (double) n * BULK / (nanos / 1e9) / 1e9;
  }

  /** The median, as Python's {@code statistics.median} (the mean of the middle two if even). */
  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int m = s.length / 2;
    return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  static double max(double[] v) {
    return Arrays.stream(v).max().orElseThrow();
  }

  private static void putPercentiles(Map<String, Object> r, String key, Histogram h) {
    r.put(key + "_p50_us", round(h.getValueAtPercentile(50.0) / 1e3, 3));
    r.put(key + "_p99_us", round(h.getValueAtPercentile(99.0) / 1e3, 3));
    r.put(key + "_p999_us", round(h.getValueAtPercentile(99.9) / 1e3, 3));
  }

  private static double round(double v, int places) {
    double f = Math.pow(10, places);
    return Math.round(v * f) / f;
  }

  // ---------------------------------------------------------------- output

  static String toJson(Map<String, Object> result) {
    StringBuilder sb = new StringBuilder("{");
    for (Map.Entry<String, Object> e : result.entrySet()) {
      if (sb.length() > 1) {
        sb.append(", ");
      }
      sb.append('"').append(e.getKey()).append("\": ");
      Object v = e.getValue();
      if (v instanceof Number || v instanceof Boolean) {
        sb.append(v);
      } else {
        sb.append('"').append(jsonEscape(String.valueOf(v))).append('"');
      }
    }
    return sb.append('}').toString();
  }

  private static String jsonEscape(String s) {
    StringBuilder sb = new StringBuilder();
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        default -> {
          if (c < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.toString();
  }

  private static void printTable(PrintStream out, Map<String, Object> r, Sizes s) {
    out.printf(
        Locale.ROOT,
        "jpipe bench: Java %s, %d CPUs; parent and one child JVM over a socketpair, then over a"
            + " shared-memory pipe%n",
        r.get("java"),
        Runtime.getRuntime().availableProcessors());
    out.printf(
        Locale.ROOT,
        "each figure the median of %d runs: %,d round trips, %,d x 64 B, %,d x 1 MiB,"
            + " %,d queue items, %,d event round trips, %,d pool tasks;"
            + " spawn: %d child starts, and %d in a row per start method%n%n",
        s.reps(),
        s.nRtt(),
        s.nSmall(),
        s.nBulk(),
        s.nQueue(),
        s.nEvent(),
        s.nPool(),
        s.spawnReps(),
        s.b2bStarts());
    String row = "%-44s %14s  %s%n";
    out.printf(Locale.ROOT, row, "figure", "value", "unit");
    out.printf(
        Locale.ROOT, row, "8-byte sendBytes/recvBytes round trip", r.get("rtt_bytes_us"), "us");
    out.printf(
        Locale.ROOT,
        row,
        "  p50 / p99 / p99.9",
        "",
        r.get("rtt_bytes_p50_us")
            + " / "
            + r.get("rtt_bytes_p99_us")
            + " / "
            + r.get("rtt_bytes_p999_us")
            + " us");
    out.printf(Locale.ROOT, row, "send(Integer)/recv() round trip", r.get("rtt_obj_us"), "us");
    out.printf(
        Locale.ROOT,
        row,
        "  p50 / p99 / p99.9",
        "",
        r.get("rtt_obj_p50_us")
            + " / "
            + r.get("rtt_obj_p99_us")
            + " / "
            + r.get("rtt_obj_p999_us")
            + " us");
    out.printf(
        Locale.ROOT,
        row,
        "64-byte one-way messages",
        String.format(Locale.ROOT, "%,.0f", (Double) r.get("small_msgs_per_s")),
        "messages/s");
    out.printf(Locale.ROOT, row, "1 MiB one-way, byte[] API", r.get("bulk_gbps"), "GB/s");
    out.printf(Locale.ROOT, row, "1 MiB one-way, off-heap API", r.get("bulk_gbps_offheap"), "GB/s");
    out.printf(
        Locale.ROOT,
        row,
        "child JVM start to first message",
        r.get("spawn_ms"),
        Boolean.TRUE.equals(r.get("spawn_aot_cache")) ? "ms (AOT cache)" : "ms (no AOT cache)");
    out.printf(Locale.ROOT, row, "  warm start (a ready spare JVM)", r.get("spawn_warm_ms"), "ms");
    out.printf(
        Locale.ROOT,
        row,
        "  " + s.b2bStarts() + " in a row, spawn: median / max",
        "",
        r.get("spawn_b2b_ms") + " / " + r.get("spawn_b2b_max_ms") + " ms");
    out.printf(
        Locale.ROOT,
        row,
        "  " + s.b2bStarts() + " in a row, warm: median / max",
        "",
        r.get("spawn_warm_b2b_ms") + " / " + r.get("spawn_warm_b2b_max_ms") + " ms");
    out.printf(
        Locale.ROOT, row, "idle child JVM resident memory", r.get("idle_child_rss_kb"), "kB");
    out.printf(
        Locale.ROOT,
        row,
        "ProcessQueue, 64-byte items, child to parent",
        String.format(Locale.ROOT, "%,.0f", (Double) r.get("queue_items_per_s")),
        "items/s");
    out.printf(
        Locale.ROOT, row, "ProcessEvent round trip (median)", r.get("event_roundtrip_us"), "us");
    out.printf(
        Locale.ROOT,
        row,
        "ProcessPool (2 workers), tasks one at a time",
        String.format(Locale.ROOT, "%,.0f", (Double) r.get("pool_tasks_per_s")),
        "tasks/s");
    out.printf(
        Locale.ROOT,
        row,
        "  map, chunks of " + POOL_CHUNK,
        String.format(Locale.ROOT, "%,.0f", (Double) r.get("pool_map_tasks_per_s")),
        "tasks/s");
    out.printf(
        Locale.ROOT,
        row,
        "  the first map of the pool (JIT cold)",
        String.format(Locale.ROOT, "%,.0f", (Double) r.get("pool_map_first_tasks_per_s")),
        "tasks/s");
    out.printf(
        Locale.ROOT,
        row,
        "  new pool to first result, warm / spawn",
        "",
        r.get("pool_start_ms") + " / " + r.get("pool_start_spawn_ms") + " ms");
    out.printf(
        Locale.ROOT, row, "shared memory: 8-byte round trip", r.get("shm_rtt_bytes_us"), "us");
    out.printf(
        Locale.ROOT,
        row,
        "  p50 / p99 / p99.9",
        "",
        r.get("shm_rtt_bytes_p50_us")
            + " / "
            + r.get("shm_rtt_bytes_p99_us")
            + " / "
            + r.get("shm_rtt_bytes_p999_us")
            + " us");
    out.printf(Locale.ROOT, row, "shared memory: object round trip", r.get("shm_rtt_obj_us"), "us");
    out.printf(
        Locale.ROOT,
        row,
        "shared memory: 64-byte one-way messages",
        String.format(Locale.ROOT, "%,.0f", (Double) r.get("shm_small_msgs_per_s")),
        "messages/s");
    out.printf(
        Locale.ROOT,
        row,
        "shared memory: 1 MiB one-way, off-heap API",
        r.get("shm_bulk_gbps"),
        "GB/s");
  }

  /**
   * Progress on stderr: one line rewritten in place on a terminal, else one line per phase (so that
   * a log stays readable).
   */
  static final class Progress {
    private final PrintStream err;
    private final boolean terminal;
    private int width;

    Progress(PrintStream err) {
      this.err = err;
      this.terminal = stderrIsTerminal();
    }

    void show(String what) {
      String line = "jpipe bench: " + what;
      if (!terminal) {
        if (!what.contains(" run ") && !what.contains(" child ")) {
          err.println(line);
        }
        return;
      }
      err.print("\r" + line + " ".repeat(Math.max(0, width - line.length())));
      err.flush();
      width = line.length();
    }

    private static boolean stderrIsTerminal() {
      try {
        String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
        return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
      } catch (IOException | RuntimeException e) {
        return false;
      }
    }

    void clear() {
      if (width > 0) {
        err.print("\r" + " ".repeat(width) + "\r");
        err.flush();
        width = 0;
      }
    }
  }
}
