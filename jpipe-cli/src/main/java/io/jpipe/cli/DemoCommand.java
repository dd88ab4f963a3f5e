package io.jpipe.cli;

import io.jpipe.examples.LockDemo;
import io.jpipe.examples.PipeDemo;
import io.jpipe.examples.PoolDemo;
import io.jpipe.examples.QueueDemo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code jpipe demo [pipe|lock|queue|pool]}: the source document's two examples, the second with a
 * {@code SimpleQueue}, and a {@code ProcessPool} that loses one worker to SIGKILL, in child JVMs.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Runs one of the source document's examples, with real child JVMs.",
      "  pipe (the default): consumer c1 in a child JVM, the parent produces 0..9.",
      "  lock: consumers c1, c2 and producer p1 in three child JVMs, one pipe, one ProcessLock.",
      "  queue: the same three child JVMs sharing one SimpleQueue, with no lock in user code.",
      "  pool: a ProcessPool of 2 worker JVMs: submit, map, and a worker",
      "    killed with SIGKILL while it runs a task: that task fails alone",
      "    (WorkerDiedException, signal 9), the tasks submitted meanwhile",
      "    complete, and the pool replaces the worker and goes on. In CPython:",
      "      with multiprocessing.Pool(2) as pool:",
      "          pool.apply_async(square, (7,)).get()  # submit(square, 7)",
      "          pool.map(square, range(1, 11))         # map(square, 1..10)",
      "    where a SIGKILLed worker leaves its task waiting forever",
      "    (cpython#96062); ProcessPoolExecutor instead fails every pending",
      "    task with BrokenProcessPool and accepts no more."
    })
final class DemoCommand implements Callable<Integer> {
  enum Example {
    pipe,
    lock,
    queue,
    pool
  }

  @Parameters(index = "0", defaultValue = "pipe", description = "pipe, lock, queue or pool")
  Example example;

  @Override
  public Integer call() throws Exception {
    switch (example) {
      case pipe -> PipeDemo.main(new String[0]);
      case lock -> LockDemo.main(new String[0]);
      case queue -> QueueDemo.main(new String[0]);
      case pool -> PoolDemo.main(new String[0]);
    }
    return 0;
  }
}
