package io.jpipe;

import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.EOFException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Tasks that the tests run in child JVMs (static methods, so they travel as method references). */
final class Children {
  private Children() {}

  /** CPython's {@code _echo}: echoes byte messages until the empty one. */
  static void echo(Connection conn) throws IOException {
    for (byte[] msg = conn.recvBytes(); msg.length != 0; msg = conn.recvBytes()) {
      conn.sendBytes(msg);
    }
    conn.close();
  }

  /** Echoes objects until end of file. */
  static void echoObjects(Connection conn) throws IOException {
    try {
      for (; ; ) {
        conn.send(conn.recv());
      }
    } catch (EOFException e) {
      conn.close();
    }
  }

  static void returnNormally() {}

  static void throwUncaught() {
    throw new IllegalStateException("thrown on purpose by a test child");
  }

  static void exitWith(Integer code) {
    System.exit(code);
  }

  static void sleepMillis(Integer millis) throws InterruptedException {
    Thread.sleep(millis);
  }

  /** Waits for one message (or end of file), then returns. */
  static void waitForMessage(Connection conn) throws IOException {
    try {
      conn.recv();
    } catch (EOFException e) {
      // released
    }
  }

  /** Sends one object back. */
  static void sendBack(Connection conn, Object value) throws IOException {
    conn.send(value);
    conn.close();
  }

  /**
   * Reports whether the inherited connection's descriptor becomes close-on-exec (it is marked off
   * the start path, so this waits up to 30 s for it).
   */
  static void reportCloseOnExec(Connection conn) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    boolean cloexec;
    do {
      String info = Files.readString(Path.of("/proc/self/fdinfo/" + conn.fileno()));
      String flags = info.lines().filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
      cloexec = (Long.parseLong(flags.substring(6).trim(), 8) & 02000000) != 0;
    } while (!cloexec && System.nanoTime() - deadline < 0 && sleep(10));
    conn.send(cloexec);
    conn.close();
  }

  private static boolean sleep(long millis) throws InterruptedException {
    Thread.sleep(millis);
    return true;
  }

  /** Reports what the child's descriptors point to: fd number and link target. */
  static void reportFds(Connection conn) throws IOException {
    List<String> fds = new ArrayList<>();
    try (Stream<Path> list = Files.list(Path.of("/proc/self/fd"))) {
      for (Path p : (Iterable<Path>) list::iterator) {
        try {
          fds.add(p.getFileName() + " " + Files.readSymbolicLink(p));
        } catch (IOException gone) {
          // the directory stream's own descriptor
        }
      }
    }
    conn.send(new ArrayList<>(fds));
    conn.close();
  }

  /** CPython's {@code _test_closefds}: is {@code fd} open here? Sends null, or the errno. */
  static void probeFd(Connection conn, Integer fd) throws IOException {
    Scratch s = Scratch.get();
    int r = Libc.fcntl(s.errno, fd, Linux.F_GETFD, 0);
    conn.send(r >= 0 ? null : Native.errno(s.errno));
    conn.close();
  }

  /** Sends {@code count} numbered messages of {@code size} bytes, then closes. */
  static void produceBytes(Connection out, Integer id, Integer count, Integer size)
      throws IOException {
    for (int i = 0; i < count; i++) {
      out.sendBytes(ConnectionContract.message(id, i, size));
    }
    out.close();
  }

  /** A value that refuses to be decoded in a JVM that has {@code -Djpipe.test.refuse=true}. */
  record RefusedInChild(int x) implements Serializable {
    private Object readResolve() throws java.io.InvalidObjectException {
      if (Boolean.getBoolean("jpipe.test.refuse")) {
        throw new java.io.InvalidObjectException("refused on purpose in the child");
      }
      return this;
    }
  }

  static void takes(RefusedInChild value) {}
}
