package io.jpipe;

import java.io.IOException;
import java.io.Serial;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What the ProcessPool tests run in workers (static methods travel as method references). */
final class PoolTasks {
  private PoolTasks() {}

  /** Counts the initializer's runs in this worker JVM. */
  static int initialized;

  static int square(int x) {
    return x * x;
  }

  static long pid() {
    return ProcessHandle.current().pid();
  }

  static long pidOf(int ignored) {
    return ProcessHandle.current().pid();
  }

  static String name() {
    return ChildProcess.currentName();
  }

  static Object echo(Object o) {
    return o;
  }

  static int failOn13(int x) {
    if (x == 13) {
      throw new IllegalArgumentException("13 is unlucky");
    }
    return x;
  }

  static int fail(String message) {
    throw new IllegalStateException(message);
  }

  /** An exception with a field that cannot be serialized. */
  static final class Unsendable extends RuntimeException {
    @Serial private static final long serialVersionUID = 1L;

    /** Not serializable. */
    @SuppressWarnings("serial")
    final Object lock = new Object();

    Unsendable(String message) {
      super(message);
    }
  }

  static int failUnsendably(String message) {
    throw new Unsendable(message);
  }

  static Object unsendableResult(int x) {
    return new Object();
  }

  static int exit(int code) {
    System.exit(code);
    return code;
  }

  static int exhaustMemory(int x) {
    List<long[]> hog = new ArrayList<>();
    for (; ; ) {
      hog.add(new long[1 << 20]);
    }
  }

  static void init() {
    initialized++;
    System.setProperty("pool.test.init", "yes");
  }

  /**
   * An initializer that holds the pool's second worker: the first worker to run it (a file {@code
   * w1} in the directory {@code -Dpool.test.gate} names) goes on at once; the second waits until
   * the file {@code open} appears, then halts (a worker failing after another runs); any later one
   * (the replacement) goes on.
   */
  static void gate() throws IOException, InterruptedException {
    Path dir = Path.of(System.getProperty("pool.test.gate"));
    if (claim(dir.resolve("w1"))) {
      return;
    }
    if (claim(dir.resolve("w2"))) {
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!Files.exists(dir.resolve("open")) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      Runtime.getRuntime().halt(7);
    }
  }

  private static boolean claim(Path p) throws IOException {
    try {
      Files.createFile(p);
      return true;
    } catch (java.nio.file.FileAlreadyExistsException e) {
      return false;
    }
  }

  static void initFails() {
    throw new IllegalStateException("initializer fails on purpose");
  }

  static String initState(int x) {
    return System.getProperty("pool.test.init") + " " + initialized;
  }

  /**
   * Marks {@code dir/started-PID}, then waits until {@code dir/release} exists; returns the pid.
   */
  static long block(String dir) throws IOException, InterruptedException {
    long pid = ProcessHandle.current().pid();
    Path d = Path.of(dir);
    Files.writeString(d.resolve("started-" + pid), "");
    while (!Files.exists(d.resolve("release"))) {
      Thread.sleep(10);
    }
    return pid;
  }
}
