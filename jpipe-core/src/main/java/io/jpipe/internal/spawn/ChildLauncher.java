package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.IoStatus;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Starts child JVMs running {@link ChildMain}, in one of two ways.
 *
 * <ul>
 *   <li><b>Spawn</b>: serialize the bootstrap into a memfd, create a status pipe, and spawn {@code
 *       java} with exactly those two descriptors plus the ones of the connections and locks among
 *       the arguments (CPython's {@code spawn}).
 *   <li><b>Warm</b>: hand the bootstrap and the descriptors ({@code SCM_RIGHTS}) to a spare JVM
 *       that {@link WarmPool} started earlier and that waits, booted and warmed up, on a private
 *       socketpair (CPython's {@code forkserver}; a socketpair has no address, so no other process
 *       can reach it); spawn if no spare is ready.
 * </ul>
 *
 * In both cases the child answers on its status channel: an empty message when ready, the error
 * when it cannot start, end of file when its JVM died first.
 */
public final class ChildLauncher {
  private ChildLauncher() {}

  /**
   * Options every child JVM gets before the user's (which come after, so they win): the serial
   * collector (a small heap starts and idles cheaper), and no performance-data file (it costs
   * start-up time and is left in /tmp/hsperfdata_USER when a child is killed).
   */
  static final List<String> DEFAULT_JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:-UsePerfData");

  /**
   * A started child.
   *
   * @param pid its pid
   * @param pidfd its pidfd, watched by the reaper
   * @param exit where its exit status arrives
   * @param status its status channel (read it, then close it)
   * @param fromSpare whether a warm spare took the task (else the child was spawned)
   */
  public record Launched(
      int pid, FdChannel pidfd, ExitWatch exit, Connection status, boolean fromSpare) {}

  /**
   * Starts a child.
   *
   * @param name the process name
   * @param daemon whether it is a daemon
   * @param target the task
   * @param args its arguments
   * @param jvmOptions extra JVM options
   * @param warm whether to use a warm spare if one is ready (else the child is spawned)
   * @param startNanos the start timeout, which bounds the hand-over to a spare
   * @return the child
   * @throws IOException if serializing or starting fails; nothing is left behind
   */
  public static Launched launch(
      String name,
      boolean daemon,
      Object target,
      Object[] args,
      List<String> jvmOptions,
      boolean warm,
      long startNanos)
      throws IOException {
    Inheritance inheritance = new Inheritance();
    try {
      Set<Class<?>> classes = new LinkedHashSet<>();
      byte[] bootstrap =
          BootstrapCodec.encode(
              name, daemon, ProcessHandle.current().pid(), target, args, inheritance, classes);
      ChildJvm jvm = ChildJvm.forClasses(classes);
      // Spares boot with the parent's class path: a task from another class loader is spawned.
      if (warm && jvm.isStandard()) {
        Launched spare = WarmPool.assign(jvmOptions, bootstrap, inheritance.fds(), startNanos);
        if (spare != null) {
          return spare;
        }
        // No spare ready: waiting for one to boot and warm up would take longer than a spawn.
      }
      return spawn(jvm, bootstrap, inheritance.fds(), jvmOptions);
    } finally {
      inheritance.releaseAll();
    }
  }

  private static Launched spawn(
      ChildJvm jvm, byte[] bootstrap, int[] inherited, List<String> jvmOptions) throws IOException {
    int boot = Spawner.memfd("jpipe-bootstrap", bootstrap);
    int[] status;
    try {
      status = Fds.pipe();
    } catch (IOException e) {
      Fds.closeQuietly(boot);
      throw e;
    }
    int pid;
    try {
      int[] fds = new int[2 + inherited.length];
      fds[0] = boot;
      fds[1] = status[1];
      System.arraycopy(inherited, 0, fds, 2, inherited.length);
      pid =
          Spawner.spawn(
              command(jvm, jvmOptions, "3", "4", "5", Integer.toString(inherited.length)), fds);
    } catch (IOException | RuntimeException e) {
      Fds.closeQuietly(status[0]);
      throw e;
    } finally {
      Fds.closeQuietly(boot);
      Fds.closeQuietly(status[1]);
    }
    Connection statusEnd =
        Access.connections()
            .newConnection(
                new FdChannel(status[0], FdChannel.Kind.PIPE),
                true,
                false,
                Codec.javaSerialization());
    ExitWatch exit = new ExitWatch();
    FdChannel pidfd = watch(pid, exit);
    return new Launched(pid, pidfd, exit, statusEnd, false);
  }

  /**
   * Builds the AOT cache children with these options boot from, if one can be used, waiting up to
   * {@code nanos}.
   *
   * @param jvmOptions the children's extra options
   * @param nanos the longest wait
   * @return whether children now boot from a cache
   */
  public static boolean prepareAotCache(List<String> jvmOptions, long nanos) {
    return AotCache.prepare(List.copyOf(jvmOptions), nanos);
  }

  /**
   * Opens the child's pidfd and hands it to the reaper. If that fails the child is killed and
   * reaped here, so no unwatched process (or zombie) is left behind.
   */
  static FdChannel watch(int pid, ExitWatch exit) throws IOException {
    Scratch s = Scratch.get();
    int fd = Libc.pidfdOpen(s.errno, pid, 0);
    if (fd < 0) {
      IOException e = Errno.exception("pidfd_open " + pid, Native.errno(s.errno));
      killAndReap(pid);
      throw e;
    }
    FdChannel pidfd = new FdChannel(fd, FdChannel.Kind.OTHER);
    try {
      Reaper.get().watch(pid, pidfd, exit);
    } catch (IOException | RuntimeException | Error e) {
      Fds.closeQuietly(pidfd);
      killAndReap(pid);
      throw e;
    }
    return pidfd;
  }

  private static void killAndReap(int pid) {
    Scratch s = Scratch.get();
    Libc.kill(s.errno, pid, Linux.SIGKILL);
    try {
      while (IoStatus.check(Libc.waitpid(s.errno, pid, s.word, 0), s.errno, "waitpid")
          == IoStatus.INTERRUPTED) {
        // a signal interrupted the wait: wait again
      }
    } catch (IOException e) {
      // ECHILD: reaped already
    }
  }

  /**
   * The command line of a child with the parent's class path: this JVM's java, what the child needs
   * of the parent ({@link ChildJvm}), the AOT cache when there is one, the user's options, then
   * {@link ChildMain} and its arguments.
   */
  static List<String> command(List<String> jvmOptions, String... mainArgs) {
    return command(ChildJvm.standard(), jvmOptions, mainArgs);
  }

  /** The command line of a child with the given class path and module options. */
  static List<String> command(ChildJvm jvm, List<String> jvmOptions, String... mainArgs) {
    List<String> cmd = new ArrayList<>();
    cmd.add(javaExecutable());
    cmd.addAll(DEFAULT_JVM_OPTIONS);
    cmd.addAll(jvm.options());
    if (jvm.isStandard()) {
      cmd.addAll(AotCache.options(jvmOptions));
    }
    cmd.addAll(jvmOptions);
    cmd.addAll(ChildJvm.main(ChildMain.class));
    cmd.addAll(List.of(mainArgs));
    return cmd;
  }

  static String javaExecutable() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
