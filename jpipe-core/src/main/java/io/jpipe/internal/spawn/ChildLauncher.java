package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts a child JVM running {@link ChildMain}: serializes its bootstrap into a memfd, creates its
 * status pipe, and spawns {@code java} with exactly those two descriptors plus the ones of the
 * connections and locks among the arguments.
 */
public final class ChildLauncher {
  private ChildLauncher() {}

  /** Options every child JVM gets before the user's (which come after, so they win). */
  static final List<String> DEFAULT_JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-Xshare:auto");

  /**
   * A started child.
   *
   * @param pid its pid
   * @param status the read end of its status pipe: an empty message when it is ready, a message
   *     with the error when it cannot start, end of file if its JVM died first
   */
  public record Launched(int pid, Connection status) {}

  /**
   * Spawns a child JVM.
   *
   * @param name the process name
   * @param daemon whether it is a daemon
   * @param target the task
   * @param args its arguments
   * @param jvmOptions extra JVM options
   * @return the child
   * @throws IOException if serializing or spawning fails; nothing is left behind
   */
  public static Launched launch(
      String name, boolean daemon, Object target, Object[] args, List<String> jvmOptions)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SpawnOutput out = new SpawnOutput(bytes);
    try {
      out.writeObject(new Bootstrap(name, daemon, ProcessHandle.current().pid(), target, args));
      out.flush();
      int[] inherited = out.fds();
      int boot = Spawner.memfd("jpipe-bootstrap", bytes.toByteArray());
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
        pid = Spawner.spawn(command(jvmOptions), fds);
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
      return new Launched(pid, statusEnd);
    } finally {
      out.releaseAll();
    }
  }

  /** The child's command line: this JVM's java, class and module path, native access. */
  static List<String> command(List<String> jvmOptions) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(DEFAULT_JVM_OPTIONS);
    Module module = ChildMain.class.getModule();
    String classPath = System.getProperty("java.class.path", "");
    String modulePath = System.getProperty("jdk.module.path");
    if (module.isNamed()) {
      cmd.add("--enable-native-access=" + module.getName() + ",ALL-UNNAMED");
    } else {
      cmd.add("--enable-native-access=ALL-UNNAMED");
    }
    if (!classPath.isEmpty()) {
      cmd.add("-cp");
      cmd.add(classPath);
    }
    if (modulePath != null && !modulePath.isEmpty()) {
      cmd.add("--module-path");
      cmd.add(modulePath);
      cmd.add("--add-modules");
      cmd.add("ALL-MODULE-PATH");
    }
    cmd.addAll(jvmOptions);
    if (module.isNamed()) {
      cmd.add("-m");
      cmd.add(module.getName() + "/" + ChildMain.class.getName());
    } else {
      cmd.add(ChildMain.class.getName());
    }
    cmd.add("3"); // bootstrap memfd
    cmd.add("4"); // status pipe
    cmd.add("5"); // first inherited descriptor
    return cmd;
  }
}
