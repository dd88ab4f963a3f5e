package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * How a child JVM starts: one implementation per {@link ChildProcess.StartMethod}, chosen per child
 * by {@link #of}. A launcher gets a child JVM to the point where it has its {@link Task} and will
 * answer on its status channel ({@link StartHandshake}); what the child then runs is {@link
 * ChildMain}'s business, and the wait for its answer is the handshake's.
 *
 * <ul>
 *   <li>{@link SpawnLauncher}: a new JVM for the child, booted now (CPython's {@code spawn}).
 *   <li>{@link WarmLauncher}: a spare JVM booted earlier takes the task (CPython's {@code
 *       forkserver}); it spawns when no spare is ready.
 * </ul>
 */
public sealed interface Launcher permits SpawnLauncher, WarmLauncher {
  /**
   * The launcher of a start method.
   *
   * @param method the start method
   * @return its launcher
   */
  static Launcher of(ChildProcess.StartMethod method) {
    return switch (method) {
      case SPAWN -> SpawnLauncher.INSTANCE;
      case WARM -> WarmLauncher.INSTANCE;
    };
  }

  /**
   * The spawn launcher.
   *
   * @return the spawn launcher
   */
  static SpawnLauncher spawn() {
    return SpawnLauncher.INSTANCE;
  }

  /**
   * The warm launcher, which owns the pool of spares.
   *
   * @return the warm launcher
   */
  static WarmLauncher warm() {
    return WarmLauncher.INSTANCE;
  }

  /**
   * Starts a child JVM with this task. On success the child has its task and will answer on {@code
   * status}; on failure nothing is left behind.
   *
   * @param task the task, encoded
   * @param startNanos the start timeout, which bounds a hand-over to a spare
   * @return the child
   * @throws IOException if the spawn (or the pidfd, or the status channel) fails
   */
  Launched launch(Task task, long startNanos) throws IOException;

  /**
   * A started child.
   *
   * @param child the process, watched by the reaper
   * @param status its status channel: {@link StartHandshake#await} reads it, then closes it
   * @param fromSpare whether a warm spare took the task (else the child was spawned)
   */
  record Launched(ChildHandle child, Connection status, boolean fromSpare) {}

  /**
   * A child's task encoded for a child JVM, with what the child inherits: the connections and locks
   * among its arguments stay acquired (they cannot be closed under the launch) until {@link
   * #close()}.
   */
  final class Task implements AutoCloseable {
    private final byte[] bootstrap;
    private final Inheritance inheritance;
    private final ChildJvm jvm;
    private final List<String> jvmOptions;

    private Task(byte[] bootstrap, Inheritance inheritance, ChildJvm jvm, List<String> jvmOptions) {
      this.bootstrap = bootstrap;
      this.inheritance = inheritance;
      this.jvm = jvm;
      this.jvmOptions = jvmOptions;
    }

    /**
     * Encodes a task.
     *
     * @param name the process name
     * @param daemon whether it is a daemon
     * @param target the task's target
     * @param args its arguments
     * @param jvmOptions the child's extra JVM options
     * @return the task; close it once launched
     * @throws IOException if the target or an argument cannot be serialized, a connection is
     *     closed, or no child JVM could load a class the task needs
     */
    public static Task encode(
        String name, boolean daemon, Object target, Object[] args, List<String> jvmOptions)
        throws IOException {
      Inheritance inheritance = new Inheritance();
      try {
        Set<Class<?>> classes = new LinkedHashSet<>();
        byte[] bootstrap =
            BootstrapCodec.encode(
                name, daemon, ProcessHandle.current().pid(), target, args, inheritance, classes);
        return new Task(
            bootstrap, inheritance, ChildJvm.forClasses(classes), List.copyOf(jvmOptions));
      } catch (IOException | RuntimeException | Error e) {
        inheritance.releaseAll();
        throw e;
      }
    }

    byte[] bootstrap() {
      return bootstrap;
    }

    /** The descriptors the child inherits, by index. */
    int[] fds() {
      return inheritance.fds();
    }

    ChildJvm jvm() {
      return jvm;
    }

    List<String> jvmOptions() {
      return jvmOptions;
    }

    /** Ends the hold on the inherited connections and locks. */
    @Override
    public void close() {
      inheritance.releaseAll();
    }
  }
}
