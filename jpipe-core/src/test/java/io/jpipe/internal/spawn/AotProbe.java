package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;
import java.time.Duration;

/**
 * A program for {@link AotCacheTest}, run from a jar (a class path of jars can have an AOT cache):
 * asks for the children's cache without waiting, starts one child, and prints its exit code and the
 * pids of the processes it leaves behind (the cache's training, if one started).
 */
public final class AotProbe {
  private AotProbe() {}

  /** The child's task. */
  public static void nothing() {}

  /**
   * Runs the probe.
   *
   * @param args unused
   * @throws Exception if the child cannot be started
   */
  public static void main(String[] args) throws Exception {
    System.out.println("cache " + ChildProcess.prepareSpawn(Duration.ZERO));
    ChildProcess child = ChildProcess.of(AotProbe::nothing);
    child.start();
    child.join();
    System.out.println("exit " + child.exitCode().orElseThrow());
    ProcessHandle.current().children().forEach(h -> System.out.println("left " + h.pid()));
  }
}
