package io.jpipe;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * Prints the pool's speed on the workloads of {@code jpipe bench} (not a test: run its main with
 * the test class path). 10,000 tasks squaring an int on 2 workers, submitted one at a time, and
 * through map with chunks of 100; and the time from a new pool to its first result.
 */
final class ProcessPoolSpeed {
  private ProcessPoolSpeed() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    ChildProcess.StartMethod method =
        args.length > 1
            ? ChildProcess.StartMethod.valueOf(args[1])
            : ChildProcess.StartMethod.SPAWN;
    // what CPython's forkserver.ensure_running does ahead of its pool
    ProcessPool.builder().workers(2).startMethod(method).prepare(java.time.Duration.ofSeconds(60));
    long t0 = System.nanoTime();
    double startMs;
    try (ProcessPool pool = ProcessPool.builder().workers(2).startMethod(method).start()) {
      pool.submit(PoolTasks::square, 1).get();
      startMs = (System.nanoTime() - t0) / 1e6;
      List<Integer> inputs = IntStream.range(0, 10_000).boxed().toList();
      double[] submit = new double[rounds];
      double[] map = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        long a = System.nanoTime();
        List<Future<Integer>> fs = new ArrayList<>(10_000);
        for (int i = 0; i < 10_000; i++) {
          fs.add(pool.submit(PoolTasks::square, i));
        }
        for (Future<Integer> f : fs) {
          f.get();
        }
        long b = System.nanoTime();
        pool.map(PoolTasks::square, inputs, 100);
        long c = System.nanoTime();
        submit[r] = 10_000 / ((b - a) / 1e9);
        map[r] = 10_000 / ((c - b) / 1e9);
      }
      Arrays.sort(submit);
      Arrays.sort(map);
      System.out.printf(
          "pool_start_ms %.0f%npool_tasks_per_s median %.0f best %.0f%n"
              + "pool_map_tasks_per_s median %.0f best %.0f%n",
          startMs, submit[rounds / 2], submit[rounds - 1], map[rounds / 2], map[rounds - 1]);
    }
  }
}
