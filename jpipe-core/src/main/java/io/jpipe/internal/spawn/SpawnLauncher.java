package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import java.io.IOException;
import java.util.List;

/**
 * The spawn start method (CPython's {@code spawn}): a new JVM per child. The task goes into a
 * memfd, the {@link StartHandshake}'s answer comes back on a pipe, and {@code java} is spawned
 * ({@link Spawner}) with exactly those two descriptors plus the ones of the connections and locks
 * among the arguments, running {@link ChildMain} with {@code BOOT_FD STATUS_FD FIRST_FD COUNT}. A
 * child with the parent's class path of jars boots from the {@link AotCache}.
 */
public final class SpawnLauncher implements Launcher {
  /** The one spawn launcher: it has no state. */
  static final SpawnLauncher INSTANCE = new SpawnLauncher();

  private SpawnLauncher() {}

  @Override
  public Launched launch(Task task, long startNanos) throws IOException {
    int[] inherited = task.fds();
    int boot = Spawner.memfd("jpipe-bootstrap", task.bootstrap());
    int[] status;
    try {
      status = Fds.pipe();
    } catch (IOException e) {
      Fds.closeQuietly(boot);
      throw e;
    }
    FdChannel statusEnd = new FdChannel(status[0], FdChannel.Kind.PIPE);
    ChildHandle child;
    try {
      int[] fds = new int[2 + inherited.length];
      fds[0] = boot;
      fds[1] = status[1];
      System.arraycopy(inherited, 0, fds, 2, inherited.length);
      List<String> argv =
          task.jvm().command(task.jvmOptions(), "3", "4", "5", Integer.toString(inherited.length));
      child = ChildHandle.spawn(argv, fds, statusEnd);
    } finally {
      Fds.closeQuietly(boot);
      Fds.closeQuietly(status[1]);
    }
    Connection statusConnection =
        Access.connections().newConnection(statusEnd, true, false, Codec.javaSerialization());
    return new Launched(child, statusConnection, false);
  }

  /**
   * Builds the AOT cache children with these options boot from, if one can be used, waiting up to
   * {@code nanos}.
   *
   * @param jvmOptions the children's extra options
   * @param nanos the longest wait
   * @return whether children now boot from a cache
   */
  public boolean prepare(List<String> jvmOptions, long nanos) {
    return AotCache.prepare(List.copyOf(jvmOptions), nanos);
  }
}
