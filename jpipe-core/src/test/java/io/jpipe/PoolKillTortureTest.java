package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jpipe.internal.posix.Linux;
import java.io.Serializable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Issue 11's torture test: 1,000 tasks of varied length through a pool of 2 workers while 20
 * SIGKILLs hit random workers at random moments (a seeded schedule). Every task ends exactly once:
 * with its right value, having run once, or with {@link WorkerDiedException} for signal 9, having
 * run at most once (a shared-memory counter per task records every start); no more tasks fail than
 * kills were sent; the pool then runs new tasks; and no worker is left, running or zombie.
 */
class PoolKillTortureTest {
  static final long SEED = 0x5EED_0011L;
  static final int TASKS = 1_000;
  static final int KILLS = 20;

  /** One task: its number, how much work it does, and where it counts its starts. */
  record Job(int id, int spins, int sleepMillis, String counters) implements Serializable {}

  private static final VarHandle COUNTER = ValueLayout.JAVA_INT.varHandle();

  /** In a worker: the counters, attached once per block. */
  private static final Map<String, SharedMemory> ATTACHED = new ConcurrentHashMap<>();

  /** The task: counts its start, works, and returns a value only its own input gives. */
  static Long work(Job job) throws Exception {
    SharedMemory shm =
        ATTACHED.computeIfAbsent(
            job.counters(),
            name -> {
              try {
                return SharedMemory.attach(name);
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    COUNTER.getAndAdd(shm.segment(), (long) job.id() * 4, 1);
    if (job.sleepMillis() > 0) {
      Thread.sleep(job.sleepMillis());
    }
    return expected(job);
  }

  /** The value of {@code job}: a hash over its number, {@code spins} rounds. */
  static long expected(Job job) {
    long x = 0x9E3779B97F4A7C15L * (job.id() + 1);
    for (int i = 0; i < job.spins(); i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
    }
    return x;
  }

  @Test
  void everyTaskEndsExactlyOnceUnderRandomSigkills() throws Exception {
    long t0 = System.nanoTime();
    Random random = new Random(SEED);
    List<Long> seen = new ArrayList<>();
    try (SharedMemory counters = SharedMemory.create((long) TASKS * 4)) {
      try {
        // Replacing 20 workers is most of the test's time: C1 only boots a worker JVM with less
        // CPU (what is tested does not depend on the JIT)
        ProcessPool pool =
            ProcessPool.builder()
                .workers(2)
                .name("torture")
                .jvmOptions("-XX:TieredStopAtLevel=1")
                .start();
        Set<Long> allPids = new HashSet<>(pool.workerPids());
        int kills;
        List<Job> jobs = new ArrayList<>();
        List<Future<Long>> futures = new ArrayList<>();
        try {
          for (int i = 0; i < TASKS; i++) {
            // mostly short, some with real work, a few that sleep (so kills find them running)
            int spins =
                random.nextInt(10) == 0
                    ? 200_000 + random.nextInt(2_000_000)
                    : random.nextInt(5_000);
            int sleep = random.nextInt(20) == 0 ? 1 + random.nextInt(20) : 0;
            jobs.add(new Job(i, spins, sleep, counters.name()));
          }
          // kill k happens once this many tasks are done, then after a short random pause
          int[] when = new int[KILLS];
          int[] pause = new int[KILLS];
          int[] victim = new int[KILLS];
          for (int k = 0; k < KILLS; k++) {
            when[k] = random.nextInt(TASKS * 9 / 10);
            pause[k] = random.nextInt(15);
            victim[k] = random.nextInt(2);
          }
          Arrays.sort(when);

          for (Job job : jobs) {
            futures.add(pool.submit(PoolKillTortureTest::work, job));
          }
          kills = 0;
          for (int k = 0; k < KILLS; k++) {
            int threshold = when[k];
            TestSupport.eventually(
                threshold + " tasks done", () -> doneCount(futures) >= threshold);
            Thread.sleep(pause[k]);
            List<Long> pids = waitForWorkers(pool);
            allPids.addAll(pids);
            long pid = pids.get(victim[k] % pids.size());
            if (CPythonPoolPortTest.signalChild(pid, Linux.SIGKILL)) {
              kills++;
            }
          }

          int failures = 0;
          MemorySegment runs = counters.segment();
          for (int i = 0; i < TASKS; i++) {
            Future<Long> f = futures.get(i);
            try {
              long v = f.get(2, TimeUnit.MINUTES);
              int started = (int) COUNTER.getVolatile(runs, (long) i * 4);
              assertEquals(expected(jobs.get(i)), v, "task " + i);
              assertEquals(
                  1, started, "task " + i + " returned after starting " + started + " times");
            } catch (ExecutionException e) {
              failures++;
              int started = (int) COUNTER.getVolatile(runs, (long) i * 4);
              if (!(e.getCause() instanceof WorkerDiedException died)) {
                throw new AssertionError("task " + i + " failed with something else", e);
              }
              assertEquals(9, died.signal().orElse(0), "task " + i + ": " + died);
              assertEquals(-9, died.exitCode(), "task " + i + ": " + died);
              assertTrue(allPids.contains(died.pid()), "task " + i + ": " + died);
              assertTrue(
                  started <= 1, "task " + i + " failed after starting " + started + " times");
            }
            assertFalse(f.isCancelled(), "task " + i);
          }
          assertTrue(kills > 0, "no kill reached a worker");
          assertTrue(
              failures <= kills, failures + " tasks failed but only " + kills + " kills were sent");

          // the pool still runs new tasks, on all its workers
          List<Long> more = pool.map(PoolKillTortureTest::work, jobs.subList(0, 50), 5);
          for (int i = 0; i < 50; i++) {
            assertEquals(expected(jobs.get(i)), more.get(i));
          }
          allPids.addAll(waitForWorkers(pool));
          TestSupport.eventually("2 workers", () -> pool.workerPids().size() == 2);
          allPids.addAll(pool.workerPids());
          System.err.printf(
              "PoolKillTortureTest: %d kills sent, %d of %d tasks failed, %d workers in all, %.1f s%n",
              kills, failures, TASKS, allPids.size(), (System.nanoTime() - t0) / 1e9);
        } finally {
          pool.shutdownNow();
          assertTrue(
              pool.awaitTermination(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS),
              "the pool did not terminate");
        }
        seen.addAll(allPids);
      } finally {
        counters.unlink();
      }
    }
    // no orphan, no zombie: every worker that ever ran is gone, and this JVM has no child left
    for (long pid : seen) {
      assertFalse(TestSupport.exists(pid), "worker " + pid + " still exists");
    }
    TestSupport.assertNoChildren();
  }

  private static int doneCount(List<Future<Long>> futures) {
    int n = 0;
    for (Future<Long> f : futures) {
      if (f.isDone()) {
        n++;
      }
    }
    return n;
  }

  /** The pool's current workers, once it has at least one (it may be replacing both). */
  private static List<Long> waitForWorkers(ProcessPool pool) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
    for (; ; ) {
      List<Long> pids = pool.workerPids();
      if (!pids.isEmpty()) {
        return pids;
      }
      if (System.nanoTime() - deadline > 0) {
        fail("the pool has had no worker for a minute");
      }
      Thread.sleep(2);
    }
  }
}
