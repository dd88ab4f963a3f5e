package io.jpipe.benchmarks;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

/**
 * A child JVM at the other end of a duplex pipe ({@code Pipe.open()}, a socketpair), running one of
 * the loops below until the benchmark closes its end. The benchmark's JVM holds {@link #conn}.
 */
final class Peer implements AutoCloseable {
  /** The acknowledgement a sink sends after each batch. */
  static final byte[] ACK = {'o', 'k'};

  /** The largest message a sink receives into its preallocated buffers. */
  static final int MAX_MESSAGE = 1 << 20;

  /** The benchmark's end. */
  final Connection conn;

  private final ChildProcess child;

  private Peer(Connection conn, ChildProcess child) {
    this.conn = conn;
    this.child = child;
  }

  /**
   * Starts a child JVM running {@code loop} on the other end of a new duplex pipe.
   *
   * @param loop one of the loops below
   * @param batch its batch size (sinks), ignored by the echo loops
   * @return the running peer
   * @throws IOException if it cannot start
   */
  static Peer start(ChildProcess.Target2<Connection, Integer> loop, int batch) throws IOException {
    return start(loop, batch, 0);
  }

  /**
   * As {@link #start(ChildProcess.Target2, int)}, over a shared-memory pipe ({@code
   * Pipe.builder().sharedMemory(ring)}) when {@code ring > 0}.
   *
   * @param loop one of the loops below
   * @param batch its batch size (sinks), ignored by the echo loops
   * @param ring bytes per ring, or 0 for a socketpair
   * @return the running peer
   * @throws IOException if it cannot start
   */
  static Peer start(ChildProcess.Target2<Connection, Integer> loop, int batch, long ring)
      throws IOException {
    Pipe pipe = ring > 0 ? Pipe.builder().sharedMemory(ring).open() : Pipe.open();
    ChildProcess child =
        ChildProcess.of(loop, pipe.conn2(), batch).name("jpipe-jmh-peer").daemon(true);
    try {
      child.start();
    } catch (IOException | RuntimeException e) {
      pipe.close();
      throw e;
    }
    pipe.conn2().close(); // the child has its own copy: it sees end of file when we close conn1
    return new Peer(pipe.conn1(), child);
  }

  /** Closes the benchmark's end; the child sees end of file and exits (killed if it does not). */
  @Override
  public void close() throws IOException {
    conn.close();
    try {
      if (!child.join(Duration.ofSeconds(20))) {
        child.kill();
        child.join();
      }
    } catch (InterruptedException e) {
      child.kill();
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------- the child's loops

  /** Echoes every message with {@code recvBytes()}/{@code sendBytes(byte[])}. */
  static void echoBytes(Connection c, Integer unused) throws IOException {
    try {
      for (; ; ) {
        c.sendBytes(c.recvBytes());
      }
    } catch (EOFException e) {
      // done
    }
  }

  /** Echoes every message through one reused array: no allocation per message in the child. */
  static void echoInto(Connection c, Integer unused) throws IOException {
    byte[] buf = new byte[64 * 1024];
    try {
      for (; ; ) {
        int n = c.recvBytesInto(buf);
        c.sendBytes(buf, 0, n);
      }
    } catch (EOFException e) {
      // done
    }
  }

  /**
   * Echoes every message through one reused native segment, with {@code
   * recvBytesInto(MemorySegment)}/{@code sendBytes(MemorySegment)}.
   */
  static void echoSegment(Connection c, Integer unused) throws IOException {
    MemorySegment buf = Arena.global().allocate(64 * 1024, 64);
    try {
      for (; ; ) {
        long n = c.recvBytesInto(buf);
        c.sendBytes(buf.asSlice(0, n));
      }
    } catch (EOFException e) {
      // done
    }
  }

  /** Echoes every object with {@code recv()}/{@code send(Object)}. */
  static void echoObjects(Connection c, Integer unused) throws IOException {
    try {
      for (; ; ) {
        c.send(c.recv());
      }
    } catch (EOFException e) {
      // done
    }
  }

  /** Receives {@code batch} messages with {@code recvBytes()}, then acknowledges; repeats. */
  static void sinkArrays(Connection c, Integer batch) throws IOException {
    int n = batch;
    try {
      for (; ; ) {
        for (int i = 0; i < n; i++) {
          c.recvBytes();
        }
        c.sendBytes(ACK);
      }
    } catch (EOFException e) {
      // done
    }
  }

  /** Receives {@code batch} messages into one reused array, then acknowledges; repeats. */
  static void sinkArrayInto(Connection c, Integer batch) throws IOException {
    int n = batch;
    byte[] buf = new byte[MAX_MESSAGE];
    try {
      for (; ; ) {
        for (int i = 0; i < n; i++) {
          c.recvBytesInto(buf);
        }
        c.sendBytes(ACK);
      }
    } catch (EOFException e) {
      // done
    }
  }

  /**
   * Receives {@code batch} messages with {@code recvBytesInto(MemorySegment)} into one native
   * segment, then acknowledges; repeats.
   */
  static void sinkSegment(Connection c, Integer batch) throws IOException {
    int n = batch;
    MemorySegment seg = Arena.global().allocate(MAX_MESSAGE, 64);
    try {
      for (; ; ) {
        for (int i = 0; i < n; i++) {
          c.recvBytesInto(seg);
        }
        c.sendBytes(ACK);
      }
    } catch (EOFException e) {
      // done
    }
  }
}
