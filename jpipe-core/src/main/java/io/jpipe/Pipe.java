package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.shm.ShmEnd;
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
   * A builder for pipes: kernel pipes as {@link #open(boolean, Codec)} makes them, or shared-memory
   * pipes ({@link Builder#sharedMemory}).
   *
   * <pre>{@code
   * try (Pipe pipe = Pipe.builder().sharedMemory(1 << 20).open()) {
   *   pipe.conn2().sendBytes(bytes);             // through a ring in shared memory
   *   byte[] got = pipe.conn1().recvBytes();
   * }
   * }</pre>
   *
   * @return a builder for a duplex kernel pipe with Java serialization, until told otherwise
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Says what pipe {@link #open()} makes. Not thread-safe; reusable.
   *
   * <h2>Shared-memory pipes</h2>
   *
   * <p>With {@link #sharedMemory(long)}, messages go through a ring buffer per direction in a
   * shared memory segment ({@code memfd}) instead of through the kernel; a {@code socketpair} kept
   * beside the rings still gives each end its descriptor ({@link Connection#fileno()}), end of file
   * when every copy of the peer end is closed in every process, sleeping when idle, and {@link
   * Connections#waitAny}. The ends are ordinary {@link Connection}s with the same contract, and can
   * be passed to child processes ({@code ChildProcess}), which map the same segment.
   *
   * <p>Unlike kernel pipes, a shared-memory pipe takes several sending processes and several
   * receiving processes on one end without any lock of the user's: each message is delivered whole,
   * exactly once, even when one of those processes is killed at any instant (a message in the
   * middle of being sent or received by the killed process is lost; no other is). A receiver spins
   * for a few microseconds before it sleeps in the kernel, so a message that comes fast is received
   * at memory speed. Choose it for many or small messages between processes of one host; a CPython
   * peer cannot use it (it speaks the kernel pipe's wire only).
   *
   * <p>A message longer than the ring streams through it in chunks, in order, and may be longer
   * than 2 GiB (send and receive it as a {@link java.lang.foreign.MemorySegment}).
   */
  public static final class Builder {
    private boolean duplex = true;
    private Codec codec = Codec.javaSerialization();
    private long sharedMemory;

    Builder() {}

    /**
     * Whether both ends send and receive (the default), or {@code conn1} only receives and {@code
     * conn2} only sends.
     *
     * @param duplex true for duplex
     * @return this builder
     */
    public Builder duplex(boolean duplex) {
      this.duplex = duplex;
      return this;
    }

    /**
     * The codec of both ends (Java serialization by default).
     *
     * @param codec the codec
     * @return this builder
     */
    public Builder codec(Codec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * Makes the pipe carry its messages through shared memory, with a ring of {@code capacityBytes}
     * per direction, rounded up to a power of two between 4 KiB and 1 GiB ({@code 1 << 20}, 1 MiB,
     * is a good start). The memory is committed as it is first used.
     *
     * @param capacityBytes bytes per direction, 1 to 2^30
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public Builder sharedMemory(long capacityBytes) {
      if (capacityBytes <= 0 || capacityBytes > 1L << 30) {
        throw new IllegalArgumentException(
            "shared memory capacity must be 1 to 2^30 bytes: " + capacityBytes);
      }
      this.sharedMemory = capacityBytes;
      return this;
    }

    /**
     * Opens the pipe.
     *
     * @return the pipe
     * @throws IOException if the kernel refuses (descriptors, memory)
     */
    public Pipe open() throws IOException {
      if (sharedMemory == 0) {
        return Pipe.open(duplex, codec);
      }
      ShmEnd[] ends = ShmEnd.openPair(duplex, sharedMemory);
      return new Pipe(
          new Connection(ends[0], true, duplex, codec),
          new Connection(ends[1], duplex, true, codec));
    }
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
