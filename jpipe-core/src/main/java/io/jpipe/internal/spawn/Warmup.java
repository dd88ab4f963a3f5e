package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;
import io.jpipe.Pipe;
import io.jpipe.ProcessLock;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.pool.WorkerMain;
import io.jpipe.internal.spawn.BootstrapCodec.Bootstrap;
import java.time.Duration;
import java.util.List;

/**
 * The work every child does first, done ahead of time: loading and linking jpipe's classes, the
 * native calls of sending, receiving and polling, and Java serialization. A warm spare runs it
 * while it waits for a task; it is also the main class of the training run that creates a child AOT
 * cache ({@link AotCache}, with {@code -XX:AOTCacheOutput}): it does what a child does on its way
 * to its first message, then exits, and the JVM writes the cache, which so holds all of it.
 */
public final class Warmup {
  private Warmup() {}

  /**
   * The AOT training run.
   *
   * @param args unused
   * @throws Exception if the warm-up fails
   */
  public static void main(String[] args) throws Exception {
    run();
  }

  private static void target(Object unused, Object alsoUnused) {}

  // Targets of every arity, called as a child calls its target: the method handles behind
  // reflection are shared by methods of the same shape, so a task's first call is cheap.
  private static void arity0() {}

  private static void arity1(Pipe a) {}

  private static void arity2(Pipe a, String b) {}

  private static void arity3(Pipe a, String b, Integer c) {}

  private static void arity4(Pipe a, String b, Integer c, Object d) {}

  private static void callEveryArity() throws Exception {
    String w = Warmup.class.getName();
    Targets.invoke(new Targets.StaticMethod(w, "arity0", "()V"), new Object[0]);
    Targets.invoke(
        new Targets.StaticMethod(w, "arity1", "(Lio/jpipe/Pipe;)V"), new Object[] {null});
    Targets.invoke(
        new Targets.StaticMethod(w, "arity2", "(Lio/jpipe/Pipe;Ljava/lang/String;)V"),
        new Object[] {null, null});
    Targets.invoke(
        new Targets.StaticMethod(
            w, "arity3", "(Lio/jpipe/Pipe;Ljava/lang/String;Ljava/lang/Integer;)V"),
        new Object[] {null, null, null});
    Targets.invoke(
        new Targets.StaticMethod(
            w,
            "arity4",
            "(Lio/jpipe/Pipe;Ljava/lang/String;Ljava/lang/Integer;Ljava/lang/Object;)V"),
        new Object[] {null, null, null, null});
  }

  @SuppressWarnings("serial") // a serializable reference to a private method, on purpose
  static void run() throws Exception {
    callEveryArity();
    // A warm child is often a pool's worker: its bootstrap is encoded and decoded (the config, a
    // record, is slow to deserialize the first time) and its target called as a worker's is.
    WorkerMain.warmUp(Warmup::runAsChild);
    try (Pipe p = Pipe.open()) {
      for (int i = 0; i < 100; i++) {
        p.conn1().sendBytes(new byte[8]);
        p.conn2().recvBytesInto(new byte[8]);
        p.conn2().send(i);
        p.conn1().recv();
      }
      p.conn1().send(List.of("warm", 1, 2.5));
      p.conn2().recv();
      p.conn2().poll();
      p.conn2().poll(Duration.ofMillis(1));
    }
    try (Pipe p = Pipe.open(false);
        ProcessLock lock = ProcessLock.create()) {
      p.conn2().sendBytes(new byte[64]);
      p.conn1().recvBytes();
      lock.lock();
      lock.unlock();
      bootstrapRoundTrip(Warmup::target, new Object[] {p.conn1(), 1}); // the compact path
      bootstrapRoundTrip(
          Warmup::target, new Object[] {lock, List.of(p.conn2(), 2.5)}); // with serialization
    }
  }

  /**
   * Runs a target as a child runs it: its bootstrap encoded and decoded (on copies of the fds),
   * then called through {@link Targets#invoke}; closes the decoded arguments after.
   */
  private static void runAsChild(Object target, Object[] args) throws Exception {
    Bootstrap boot = bootstrap(target, args);
    try {
      Targets.invoke(boot.target(), boot.args());
    } finally {
      closeAll(boot.args());
    }
  }

  /** Encodes a bootstrap as a parent does and decodes it as a child does, on copies of the fds. */
  private static void bootstrapRoundTrip(ChildProcess.Target2<Object, Object> target, Object[] args)
      throws Exception {
    closeAll(bootstrap(target, args).args());
  }

  private static Bootstrap bootstrap(Object target, Object[] args) throws Exception {
    Inheritance inheritance = new Inheritance();
    byte[] bytes;
    int[] copies;
    try {
      bytes = BootstrapCodec.encode("warmup", false, 0, target, args, inheritance);
      int[] fds = inheritance.fds();
      copies = new int[fds.length];
      for (int i = 0; i < fds.length; i++) {
        copies[i] = Fds.dupCloexec(fds[i]);
      }
    } finally {
      inheritance.releaseAll();
    }
    return BootstrapCodec.decode(bytes, new Revival(copies));
  }

  private static void closeAll(Object o) throws Exception {
    switch (o) {
      case AutoCloseable c -> c.close();
      case Object[] a -> {
        for (Object x : a) {
          closeAll(x);
        }
      }
      case List<?> l -> {
        for (Object x : l) {
          closeAll(x);
        }
      }
      case null, default -> {}
    }
  }
}
