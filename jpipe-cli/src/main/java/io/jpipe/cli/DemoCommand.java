package io.jpipe.cli;

import io.jpipe.examples.LockDemo;
import io.jpipe.examples.PipeDemo;
import io.jpipe.examples.QueueDemo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code jpipe demo [pipe|lock|queue]}: the source document's two examples, and the second with a
 * {@code SimpleQueue}, in child JVMs.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Runs one of the source document's examples, with real child JVMs.",
      "  pipe (the default): consumer c1 in a child JVM, the parent produces 0..9.",
      "  lock: consumers c1, c2 and producer p1 in three child JVMs, one pipe, one ProcessLock.",
      "  queue: the same three child JVMs sharing one SimpleQueue, with no lock in user code."
    })
final class DemoCommand implements Callable<Integer> {
  enum Example {
    pipe,
    lock,
    queue
  }

  @Parameters(index = "0", defaultValue = "pipe", description = "pipe, lock or queue")
  Example example;

  @Override
  public Integer call() throws Exception {
    switch (example) {
      case pipe -> PipeDemo.main(new String[0]);
      case lock -> LockDemo.main(new String[0]);
      case queue -> QueueDemo.main(new String[0]);
    }
    return 0;
  }
}
