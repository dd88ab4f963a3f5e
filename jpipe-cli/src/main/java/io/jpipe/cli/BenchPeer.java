package io.jpipe.cli;

import io.jpipe.Connection;
import io.jpipe.ProcessEvent;
import io.jpipe.ProcessQueue;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The child JVM's side of {@code jpipe bench}: one child serves every phase, each started by a
 * command message from the parent (an operation byte and a message count).
 */
final class BenchPeer {
  private BenchPeer() {}

  /** Echo {@code n} byte messages with {@code recvBytes}/{@code sendBytes}. */
  static final byte ECHO_BYTES = 1;

  /** Echo {@code n} objects with {@code recv}/{@code send}. */
  static final byte ECHO_OBJECTS = 2;

  /** Swallow {@code n} messages with {@code recvBytes()}, then send one acknowledgement. */
  static final byte SINK_ARRAYS = 3;

  /**
   * Swallow {@code n} messages with {@code recvBytesInto(MemorySegment)} into one preallocated
   * native segment, then send one acknowledgement.
   */
  static final byte SINK_SEGMENT = 4;

  /**
   * Put {@code n} 64-byte {@code byte[]} items on the queue, then an empty array: the sentinel that
   * ends the consumer's loop, as {@code None} does in {@code py_queue_bench.py} (not {@code null},
   * which a {@code ProcessQueue} refuses).
   */
  static final byte PRODUCE = 5;

  /** {@code n} times: wait for the ping event, clear it, set the pong event. */
  static final byte PONG = 6;

  /** The size of a queue item. */
  static final int ITEM = 64;

  /** The largest message a phase sends (the segment sink's capacity). */
  static final int MAX_MESSAGE = 1 << 20;

  private static final byte[] DONE = "done".getBytes(StandardCharsets.US_ASCII);

  /**
   * The pool figures' task, in a pool worker: {@code py_pool_bench.py}'s {@code square}.
   *
   * @param x a number
   * @return its square
   */
  static Integer square(Integer x) {
    return x * x;
  }

  /**
   * A command message.
   *
   * @param op the operation
   * @param n how many messages it covers
   * @return the message
   */
  static byte[] command(byte op, int n) {
    return ByteBuffer.allocate(5).put(op).putInt(n).array();
  }

  /**
   * Runs in the child: serves commands until the parent closes its end.
   *
   * @param c the child's end of a duplex pipe
   * @param queue the queue the child produces into
   * @param ping the event the parent sets
   * @param pong the event the child sets in answer
   * @throws IOException if the pipe or the queue fails
   * @throws InterruptedException if interrupted
   */
  static void serve(Connection c, ProcessQueue<byte[]> queue, ProcessEvent ping, ProcessEvent pong)
      throws IOException, InterruptedException {
    MemorySegment segment = Arena.global().allocate(MAX_MESSAGE, 64);
    byte[] command = new byte[5];
    for (; ; ) {
      try {
        c.recvBytesInto(command);
      } catch (EOFException e) {
        return;
      }
      ByteBuffer b = ByteBuffer.wrap(command);
      byte op = b.get();
      int n = b.getInt();
      switch (op) {
        case ECHO_BYTES -> {
          for (int i = 0; i < n; i++) {
            c.sendBytes(c.recvBytes());
          }
        }
        case ECHO_OBJECTS -> {
          for (int i = 0; i < n; i++) {
            c.send(c.recv());
          }
        }
        case SINK_ARRAYS -> {
          for (int i = 0; i < n; i++) {
            c.recvBytes();
          }
          c.sendBytes(DONE);
        }
        case SINK_SEGMENT -> {
          for (int i = 0; i < n; i++) {
            c.recvBytesInto(segment);
          }
          c.sendBytes(DONE);
        }
        case PRODUCE -> {
          byte[] item = new byte[ITEM];
          Arrays.fill(item, (byte) 'x');
          for (int i = 0; i < n; i++) {
            queue.put(item);
          }
          queue.put(new byte[0]);
        }
        case PONG -> {
          for (int i = 0; i < n; i++) {
            ping.await();
            ping.clear();
            pong.set();
          }
        }
        default -> throw new IllegalStateException("unknown bench command " + op);
      }
    }
  }

  /**
   * Runs in the child of the shared-memory phases: serves the message commands ({@link
   * #ECHO_BYTES}, {@link #ECHO_OBJECTS}, {@link #SINK_ARRAYS}, {@link #SINK_SEGMENT}) until the
   * parent closes its end.
   *
   * @param c the child's end of a duplex shared-memory pipe
   * @throws IOException if the pipe fails
   * @throws InterruptedException if interrupted
   */
  static void serveMessages(Connection c) throws IOException, InterruptedException {
    serve(c, null, null, null);
  }

  /**
   * Runs in the child of the start-up measurement: sends two bytes at once, then waits (idle, so
   * that its memory can be read) until the parent closes its end.
   *
   * @param c the child's end
   * @throws IOException if the pipe fails
   */
  static void hello(Connection c) throws IOException {
    c.sendBytes(new byte[] {'h', 'i'});
    try {
      c.recvBytes();
    } catch (EOFException e) {
      // the parent is done with us
    }
  }
}
