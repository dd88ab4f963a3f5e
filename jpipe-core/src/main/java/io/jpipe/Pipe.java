package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import java.io.IOException;
import java.util.Objects;

/**
 * A pipe between processes: two {@link Connection} ends over a real kernel object (CPython's {@code
 * multiprocessing.Pipe}).
 *
 * <p>{@code Pipe.open()} is duplex, a {@code socketpair(AF_UNIX, SOCK_STREAM)}: both ends send and
 * receive. {@code Pipe.open(false)} is one-way, a {@code pipe2}: {@link #conn1()} only receives and
 * {@link #conn2()} only sends, as in CPython. Both descriptors are close-on-exec: a child process
 * gets an end only when it is passed to it ({@code ChildProcess}).
 *
 * <pre>{@code
 * try (Pipe pipe = Pipe.open(false)) {
 *   pipe.conn2().send("hello");
 *   String s = pipe.conn1().recv(String.class);
 * }
 * }</pre>
 *
 * <p>Closing the pipe closes both ends in this process; each end can also be closed on its own.
 */
public final class Pipe implements AutoCloseable {
  private final Connection conn1;
  private final Connection conn2;

  private Pipe(Connection conn1, Connection conn2) {
    this.conn1 = conn1;
    this.conn2 = conn2;
  }

  /**
   * Opens a duplex pipe.
   *
   * @return the pipe
   * @throws IOException if the kernel refuses (for example, too many open files)
   */
  public static Pipe open() throws IOException {
    return open(true, Codec.javaSerialization());
  }

  /**
   * Opens a duplex ({@code true}) or one-way ({@code false}) pipe.
   *
   * @param duplex whether both ends send and receive
   * @return the pipe
   * @throws IOException if the kernel refuses
   */
  public static Pipe open(boolean duplex) throws IOException {
    return open(duplex, Codec.javaSerialization());
  }

  /**
   * Opens a pipe whose ends use {@code codec} for objects.
   *
   * @param duplex whether both ends send and receive
   * @param codec the codec of both ends
   * @return the pipe
   * @throws IOException if the kernel refuses
   */
  public static Pipe open(boolean duplex, Codec codec) throws IOException {
    Objects.requireNonNull(codec, "codec");
    if (duplex) {
      int[] fds = Fds.socketpair();
      return new Pipe(
          new Connection(new FdChannel(fds[0], FdChannel.Kind.SOCKET), true, true, codec),
          new Connection(new FdChannel(fds[1], FdChannel.Kind.SOCKET), true, true, codec));
    }
    int[] fds = Fds.pipe();
    return new Pipe(
        new Connection(new FdChannel(fds[0], FdChannel.Kind.PIPE), true, false, codec),
        new Connection(new FdChannel(fds[1], FdChannel.Kind.PIPE), false, true, codec));
  }

  /**
   * The first end: receive-only for a one-way pipe.
   *
   * @return the first end
   */
  public Connection conn1() {
    return conn1;
  }

  /**
   * The second end: send-only for a one-way pipe.
   *
   * @return the second end
   */
  public Connection conn2() {
    return conn2;
  }

  /** Closes both ends in this process (idempotent). */
  @Override
  public void close() {
    conn1.close();
    conn2.close();
  }

  @Override
  public String toString() {
    return "Pipe[" + conn1 + ", " + conn2 + "]";
  }
}
