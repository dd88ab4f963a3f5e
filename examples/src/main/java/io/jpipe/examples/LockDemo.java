package io.jpipe.examples;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import io.jpipe.ProcessLock;
import java.io.IOException;

/**
 * The source document's improved example: two consumers and one producer, three child JVMs, one
 * pipe, and a {@link ProcessLock}.
 *
 * <p>Consumers {@code c1} and {@code c2} share the receiving end and take turns under the lock; the
 * producer {@code p1} sends 0..n-1 and then one {@code null} per consumer. A consumer stops only at
 * {@code null}: the original tested {@code if baozi:}, so the item 0 (false in Python) also stopped
 * a consumer, and items could be lost. Here every item is received exactly once.
 */
public final class LockDemo {
  private LockDemo() {}

  /**
   * Runs in each consumer child.
   *
   * @param produce the sending end, unused here, so closed at once
   * @param consume the shared receiving end
   * @param name this consumer's name
   * @param lock taken around each receive, so two consumers never read one message together
   * @throws IOException if receiving fails
   */
  static void consumer(Connection produce, Connection consume, String name, ProcessLock lock)
      throws IOException {
    produce.close();
    while (true) {
      Object item;
      lock.lock();
      try {
        item = consume.recv();
      } finally {
        lock.unlock();
      }
      if (item == null) { // the sentinel, and only the sentinel
        consume.close();
        break;
      }
      System.out.println(name + " received: " + item);
    }
  }

  /**
   * Runs in the producer child.
   *
   * @param produce the sending end
   * @param consume the receiving end, unused here, so closed at once
   * @param n how many items to send
   * @param consumers how many sentinels to send, one per consumer
   * @throws IOException if sending fails
   */
  static void producer(Connection produce, Connection consume, Integer n, Integer consumers)
      throws IOException {
    consume.close();
    for (int i = 0; i < n; i++) {
      produce.send(i);
    }
    for (int i = 0; i < consumers; i++) {
      produce.send(null);
    }
    produce.close();
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
    ProcessLock lock = ProcessLock.create();

    ChildProcess c1 = ChildProcess.of(LockDemo::consumer, produce, consume, "c1", lock);
    ChildProcess c2 = ChildProcess.of(LockDemo::consumer, produce, consume, "c2", lock);
    ChildProcess p1 = ChildProcess.of(LockDemo::producer, produce, consume, 10, 2);
    c1.start();
    c2.start();
    p1.start();

    produce.close();
    consume.close();

    c1.join();
    c2.join();
    p1.join();
    System.out.println("main process");
  }
}
