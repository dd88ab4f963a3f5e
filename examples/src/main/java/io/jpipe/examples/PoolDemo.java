package io.jpipe.examples;

import io.jpipe.ProcessPool;
import io.jpipe.SharedMemory;
import io.jpipe.WorkerDiedException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * A {@link ProcessPool} of two worker JVMs: {@code submit}, {@code map}, and a worker killed with
 * SIGKILL in the middle of a task, which fails that task alone while the pool replaces the worker
 * and goes on. The CPython equivalent:
 *
 * <pre>{@code
 * from multiprocessing import Pool
 * def square(x): return x * x
 * if __name__ == "__main__":
 *     with Pool(2) as pool:
 *         print(pool.apply_async(square, (7,)).get())      # submit(square, 7)
 *         print(pool.map(square, range(1, 11)))             # map(square, 1..10)
 *         # a worker SIGKILLed while it runs a task: Pool waits for that task forever
 *         # (cpython#96062); ProcessPoolExecutor fails every pending task with
 *         # BrokenProcessPool and accepts no more
 * }</pre>
 */
public final class PoolDemo {
  private PoolDemo() {}

  private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

  /**
   * Runs in a worker.
   *
   * @param x a number
   * @return its square
   */
  static Integer square(Integer x) {
    return x * x;
  }

  /**
   * Runs in a worker: writes the worker's pid to {@code board}, then waits to be killed.
   *
   * @param board eight bytes of shared memory the parent watches
   * @return never
   * @throws InterruptedException if interrupted
   */
  static Integer doomed(SharedMemory board) throws InterruptedException {
    WORD.setVolatile(board.segment(), 0L, ProcessHandle.current().pid());
    Thread.sleep(600_000);
    return -1;
  }

  private static List<Integer> oneToTen() {
    return IntStream.rangeClosed(1, 10).boxed().toList();
  }

  /**
   * The example.
   *
   * @param args unused
   * @throws Exception if it fails
   */
  public static void main(String[] args) throws Exception {
    try (ProcessPool pool = ProcessPool.create(2);
        SharedMemory board = SharedMemory.create(8)) {
      try {
        System.out.println("submit(square, 7) -> " + pool.submit(PoolDemo::square, 7).get());
        System.out.println("map(square, 1..10) -> " + pool.map(PoolDemo::square, oneToTen(), 3));

        Future<Integer> doomed = pool.submit(PoolDemo::doomed, board);
        MemorySegment word = board.segment();
        long pid;
        while ((pid = (long) WORD.getVolatile(word, 0L)) == 0) {
          Thread.sleep(1);
        }
        List<Future<Integer>> others = new ArrayList<>();
        for (int i = 11; i <= 15; i++) {
          others.add(pool.submit(PoolDemo::square, i));
        }
        System.out.println("kill -9 the worker that runs the doomed task");
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly); // SIGKILL
        try {
          doomed.get();
          System.out.println("the doomed task returned?");
        } catch (ExecutionException e) {
          if (e.getCause() instanceof WorkerDiedException died) {
            System.out.println(
                "the doomed task failed alone: its worker was killed by signal "
                    + died.signal().orElse(0));
          } else {
            throw e;
          }
        }
        List<Integer> rest = new ArrayList<>();
        for (Future<Integer> f : others) {
          rest.add(f.get());
        }
        System.out.println("the tasks submitted meanwhile -> " + rest);
        System.out.println(
            "after the kill, map(square, 1..10) -> " + pool.map(PoolDemo::square, oneToTen(), 3));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (pool.workerPids().size() < pool.workers() && System.nanoTime() - deadline < 0) {
          Thread.sleep(5);
        }
        System.out.println(
            "workers now: "
                + pool.workerPids().size()
                + " (the killed one replaced: "
                + !pool.workerPids().contains(pid)
                + ")");
      } finally {
        board.unlink();
      }
    }
    System.out.println("main process");
  }
}
