package io.jpipe.cli;

import io.jpipe.examples.LockDemo;
import io.jpipe.examples.PipeDemo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jpipe demo [pipe|lock]}: the source document's two examples, in child JVMs. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Runs one of the source document's examples, with real child JVMs.",
      "  pipe (the default): consumer c1 in a child JVM, the parent produces 0..9.",
      "  lock: consumers c1, c2 and producer p1 in three child JVMs, one pipe, one ProcessLock."
    })
final class DemoCommand implements Callable<Integer> {
  enum Example {
    pipe,
    lock
  }

  @Parameters(index = "0", defaultValue = "pipe", description = "pipe or lock")
  Example example;

  @Override
  public Integer call() throws Exception {
    switch (example) {
      case pipe -> PipeDemo.main(new String[0]);
      case lock -> LockDemo.main(new String[0]);
    }
    return 0;
  }
}
