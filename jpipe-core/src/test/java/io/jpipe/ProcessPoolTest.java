package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** ProcessPool: an ExecutorService of worker JVMs that survives its workers. */
class ProcessPoolTest {
  @Test
  void smoke() throws Exception {
    try (ProcessPool pool = ProcessPool.create(2)) {
      assertEquals(49, pool.submit(PoolTasks::square, 7).get());
      List<Integer> in = IntStream.range(0, 1000).boxed().toList();
      assertEquals(in.stream().map(x -> x * x).toList(), pool.map(PoolTasks::square, in, 7));
      long t0 = System.nanoTime();
      for (int round = 0; round < 5; round++) {
        t0 = System.nanoTime();
        List<java.util.concurrent.Future<Integer>> fs = new java.util.ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
          fs.add(pool.submit(PoolTasks::square, i));
        }
        for (int i = 0; i < 10_000; i++) {
          assertEquals(i * i, fs.get(i).get());
        }
        long t1 = System.nanoTime();
        System.out.printf("submit: %.0f tasks/s%n", 10_000 / ((t1 - t0) / 1e9));
        List<Integer> big = IntStream.range(0, 10_000).boxed().toList();
        t0 = System.nanoTime();
        pool.map(PoolTasks::square, big, 100);
        t1 = System.nanoTime();
        System.out.printf("map: %.0f tasks/s%n", 10_000 / ((t1 - t0) / 1e9));
      }
    }
    TestSupport.assertNoChildren();
  }
}
