package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.internal.io.PollSet;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.spawn.BootstrapCodec.Bootstrap;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The main class of a child JVM (CPython's {@code spawn_main}).
 *
 * <p>Arguments: the bootstrap memfd, the status pipe, and the first inherited descriptor. It reads
 * and decodes the {@link Bootstrap}, answers the {@link StartHandshake} on the status pipe (ready,
 * or why it cannot start), closes both, and runs the target. A warm spare ({@link WarmPool}) does
 * the same once it is given its task, answering on its socket. Reading goes through {@code
 * /proc/self/fd}, so no native call is linked before the target needs one.
 *
 * <p>Exit status as in CPython: 0 when the target returns, 1 after an uncaught exception (printed
 * as {@code Process NAME:} and the stack trace), N after {@code System.exit(N)}, and death by
 * SIGTERM is reported as such (the JVM's SIGTERM handler is reset to the default action).
 */
public final class ChildMain {
  private ChildMain() {}

  /**
   * Runs in the child JVM.
   *
   * @param args {@code BOOT_FD STATUS_FD FIRST_FD COUNT} (spawned), or {@code spare CTL_FD} (warm)
   * @throws Throwable whatever the target throws, after reporting it
   */
  public static void main(String[] args) throws Throwable {
    boolean spare = args[0].equals("spare");
    int firstFd = spare ? 0 : Integer.parseInt(args[2]);
    int count = spare ? 0 : Integer.parseInt(args[3]);
    Thread prelink =
        new Thread(
            () -> {
              Libc.prelink();
              closeOnExec(firstFd, count);
            },
            "jpipe-prelink");
    prelink.setDaemon(true);
    prelink.start(); // on the other core while this one decodes the task
    resetSigterm(); // before "ready": the parent may terminate us as soon as start() returns
    if (spare) {
      spare(Integer.parseInt(args[1]));
      return;
    }
    int bootFd = Integer.parseInt(args[0]);
    int statusFd = Integer.parseInt(args[1]);
    Bootstrap boot;
    try (OutputStream status = new FileOutputStream("/proc/self/fd/" + statusFd)) {
      try {
        byte[] bytes = Files.readAllBytes(Path.of("/proc/self/fd/" + bootFd));
        boot = decode(bytes, inherited(firstFd, count));
      } catch (Throwable t) {
        StartHandshake.answer(status, t);
        System.exit(1);
        return;
      }
      StartHandshake.answer(status, null);
    }
    closeQuietly(bootFd);
    closeQuietly(statusFd);
    become(boot);
  }

  /**
   * A warm spare: boot and warm up now, say so with one byte on {@code ctlFd}, then wait there for
   * a task (descriptors, then the bootstrap), answer on the same socket, and become the child.
   *
   * <p>Until it has answered, a spare belongs to its parent only: if the parent is gone or gives it
   * up (end of file, a reset because it closed its end with our ready byte unread, a broken pipe),
   * the spare exits at once with code 0 and prints nothing, since nobody waits for it and it has
   * run nothing of the user's. Only a task it cannot decode is reported, to the parent that sent
   * it.
   */
  private static void spare(int ctlFd) throws Throwable {
    Warmup.run();
    Scratch s = Scratch.get();
    s.word.set(ValueLayout.JAVA_BYTE, 0, WarmPool.READY);
    if (Libc.write(s.errno, ctlFd, s.word, 1) != 1) { // the parent may take us now
      parentGone();
    }
    int[] fds = null;
    Connection ctl = null;
    byte[] task = null;
    try {
      fds = FdPassing.receive(ctlFd);
      ctl =
          Access.connections()
              .newConnection(
                  new FdChannel(ctlFd, FdChannel.Kind.SOCKET),
                  true,
                  true,
                  Codec.javaSerialization());
      task = ctl.recvBytes();
    } catch (IOException e) {
      if (isParentGone(e)) {
        parentGone();
      }
      throw e;
    }
    Bootstrap boot;
    try {
      boot = decode(task, fds);
    } catch (Throwable t) {
      answer(ctl, t);
      System.exit(1);
      return;
    }
    answer(ctl, null);
    ctl.close();
    become(boot);
  }

  /** The spare's answer; a parent gone meanwhile will not run our task: we exit quietly. */
  private static void answer(Connection ctl, Throwable failure) throws IOException {
    try {
      StartHandshake.answer(ctl, failure);
    } catch (IOException e) {
      if (isParentGone(e)) {
        parentGone();
      }
      throw e;
    }
  }

  /**
   * Whether an error on the spare's socket means that the parent closed its end: end of file, a
   * reset (it closed with data unread) or a broken pipe.
   */
  private static boolean isParentGone(IOException e) {
    return e instanceof java.io.EOFException
        || e instanceof java.net.SocketException
        || e instanceof io.jpipe.BrokenPipeException;
  }

  /** A spare's end when its parent no longer needs it: no output, code 0. */
  private static void parentGone() {
    Runtime.getRuntime().halt(0);
  }

  /**
   * Marks the inherited descriptors close-on-exec, as every descriptor jpipe opens is: spawning
   * cleared the flag so that they survived into this JVM, and a program this child runs later must
   * not inherit them (it would hold the pipes open). Runs off the start path, on the prelink
   * thread.
   */
  private static void closeOnExec(int first, int n) {
    Scratch s = Scratch.get();
    for (int i = 0; i < n; i++) {
      Libc.fcntl(s.errno, first + i, Linux.F_SETFD, Linux.FD_CLOEXEC);
    }
  }

  /**
   * The spawned child's inherited descriptors: {@code first, first + 1, ...}, {@code n} of them.
   */
  private static int[] inherited(int first, int n) {
    int[] fds = new int[n];
    for (int i = 0; i < n; i++) {
      fds[i] = first + i;
    }
    return fds;
  }

  private static Bootstrap decode(byte[] bytes, int[] fds) throws Exception {
    return BootstrapCodec.decode(bytes, new Revival(fds));
  }

  /** From here on this JVM is the child: its name, daemon watch, error report, then the task. */
  private static void become(Bootstrap boot) throws Throwable {
    System.setProperty(ChildProcess.NAME_PROPERTY, boot.name());
    System.setProperty(ChildProcess.DAEMON_PROPERTY, Boolean.toString(boot.daemon()));
    if (boot.daemon()) {
      ParentWatch.start(boot.parentPid());
    }
    Thread.currentThread().setUncaughtExceptionHandler(new Report(boot.name()));
    Targets.invoke(boot.target(), boot.args());
  }

  /**
   * Prints an uncaught exception as CPython's child does. A class rather than a lambda: a warm
   * spare reaches this code only once it has its task, and a lambda would be linked then.
   */
  private record Report(String name) implements Thread.UncaughtExceptionHandler {
    @Override
    public void uncaughtException(Thread thread, Throwable e) {
      System.err.println("Process " + name + ":");
      e.printStackTrace();
    }
  }

  private static void closeQuietly(int fd) {
    Libc.close(Scratch.get().errno, fd);
  }

  /**
   * The JVM turns SIGTERM into an orderly exit with code 143; a CPython child dies of the signal,
   * and its parent reports -15. Give SIGTERM back its default action (through sun.misc.Signal,
   * reflectively: the JVM's supported way to change a handler, which javac warns about when used
   * directly).
   */
  private static void resetSigterm() {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Object term = signal.getConstructor(String.class).newInstance("TERM");
      Object dfl = handler.getField("SIG_DFL").get(null);
      signal.getMethod("handle", signal, handler).invoke(null, term, dfl);
    } catch (ReflectiveOperationException | RuntimeException e) {
      System.err.println("jpipe: could not reset SIGTERM to its default action: " + e);
    }
  }

  /**
   * Kills a daemon child as soon as its parent is gone (even by SIGKILL). Its thread's task is a
   * class rather than a lambda, for the reason {@link Report} is.
   */
  static final class ParentWatch implements Runnable {
    private final int parentPid;

    private ParentWatch(int parentPid) {
      this.parentPid = parentPid;
    }

    static void start(long parentPid) {
      Thread t = new Thread(new ParentWatch((int) parentPid), "jpipe-parent-watch");
      t.setDaemon(true);
      t.start();
    }

    @Override
    public void run() {
      watch(parentPid);
    }

    private static void watch(int parentPid) {
      Scratch s = Scratch.get();
      int pidfd = Libc.pidfdOpen(s.errno, parentPid, 0);
      if (pidfd < 0 || Libc.getppid() != parentPid) {
        Runtime.getRuntime().halt(1); // the parent is already gone
      }
      try (Arena arena = Arena.ofConfined()) {
        PollSet p = new PollSet(arena, 1);
        p.add(pidfd, Linux.POLLIN);
        p.poll(s, FdChannel.NO_DEADLINE); // readable when the parent has exited
      } catch (java.io.IOException e) {
        // poll itself failed: we cannot watch the parent, so do as if it were gone
      }
      Runtime.getRuntime().halt(1);
    }
  }
}
