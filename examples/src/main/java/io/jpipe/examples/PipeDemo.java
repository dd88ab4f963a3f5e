package io.jpipe.examples;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import java.io.EOFException;
import java.io.IOException;

/**
 * The source document's first example: a producer-consumer pair over a {@link Pipe}.
 *
 * <p>The parent creates the pipe, starts consumer {@code c1} in a child JVM with both ends, then
 * produces 0..9 itself. Each side closes the end it does not use: the pipe's kernel object counts
 * the copies of each end in every process, and {@code c1} sees end of file only when every copy of
 * the sending end is closed, here and in the child.
 */
public final class PipeDemo {
  private PipeDemo() {}

  /**
   * Runs in the child: receives until end of file.
   *
   * @param produce the sending end, unused here, so closed at once
   * @param consume the receiving end
   * @param name this consumer's name
   * @throws IOException if receiving fails
   */
  static void consumer(Connection produce, Connection consume, String name) throws IOException {
    produce.close();
    while (true) {
      try {
        Object item = consume.recv();
        System.out.println(name + " received: " + item);
      } catch (EOFException e) {
        break;
      }
    }
  }

  /**
   * Runs in the parent: sends every item.
   *
   * @param items what to send
   * @param produce the sending end
   * @param consume the receiving end, unused here, so closed at once
   * @throws IOException if sending fails
   */
  static void producer(Iterable<Integer> items, Connection produce, Connection consume)
      throws IOException {
    consume.close();
    for (int item : items) {
      produce.send(item);
    }
  }

  /**
   * The example.
   *
   * @param args unused
   * @throws Exception if it fails
   */
  public static void main(String[] args) throws Exception {
    Pipe pipe = Pipe.open();
    Connection produce = pipe.conn1();
    Connection consume = pipe.conn2();

    ChildProcess c1 = ChildProcess.of(PipeDemo::consumer, produce, consume, "c1");
    c1.start();

    producer(java.util.stream.IntStream.range(0, 10).boxed().toList(), produce, consume);
    produce.close();
    consume.close();

    c1.join();
    System.out.println("main process");
  }
}
