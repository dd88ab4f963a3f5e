package io.jpipe.examples;

import io.jpipe.ChildProcess;
import io.jpipe.SimpleQueue;

/**
 * The source document's improved example with a {@link SimpleQueue} instead of a pipe and a lock:
 * two consumers and one producer, three child JVMs, and no lock in user code.
 *
 * <p>Consumers {@code c1} and {@code c2} take from the same queue; the producer {@code p1} puts
 * 0..n-1 and then one {@code null} per consumer. The queue takes its own locks, so each item is
 * taken whole by exactly one consumer; which consumer gets which item may vary from run to run.
 */
public final class QueueDemo {
  private QueueDemo() {}

  /**
   * Runs in each consumer child: takes until the {@code null} sentinel.
   *
   * @param queue the shared queue
   * @param name this consumer's name
   * @throws Exception if taking fails
   */
  static void consumer(SimpleQueue<Integer> queue, String name) throws Exception {
    for (Integer item; (item = queue.take()) != null; ) {
      System.out.println(name + " received: " + item);
    }
    queue.close();
  }

  /**
   * Runs in the producer child.
   *
   * @param queue the shared queue
   * @param n how many items to put
   * @param consumers how many sentinels to put, one per consumer
   * @throws Exception if putting fails
   */
  static void producer(SimpleQueue<Integer> queue, Integer n, Integer consumers) throws Exception {
    for (int i = 0; i < n; i++) {
      queue.put(i);
    }
    for (int i = 0; i < consumers; i++) {
      queue.put(null);
    }
    queue.close();
  }

  /**
   * The example.
   *
   * @param args unused
   * @throws Exception if it fails
   */
  public static void main(String[] args) throws Exception {
    try (SimpleQueue<Integer> queue = SimpleQueue.create()) {
      ChildProcess c1 = ChildProcess.of(QueueDemo::consumer, queue, "c1");
      ChildProcess c2 = ChildProcess.of(QueueDemo::consumer, queue, "c2");
      ChildProcess p1 = ChildProcess.of(QueueDemo::producer, queue, 10, 2);
      c1.start();
      c2.start();
      p1.start();

      c1.join();
      c2.join();
      p1.join();
    }
    System.out.println("main process");
  }
}
