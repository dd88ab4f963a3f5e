package io.jpipe.cli;

import io.jpipe.Connection;
import io.jpipe.Pipe;
import java.io.EOFException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jpipe demo}: the source document's producer-consumer example. */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = "Runs the source document's producer-consumer example over a Pipe.")
final class DemoCommand implements Callable<Integer> {
  @Override
  public Integer call() throws Exception {
    Pipe pipe = Pipe.open();
    Connection consume = pipe.conn1();
    Connection produce = pipe.conn2();
    Thread c1 =
        new Thread(
            () -> {
              try {
                consumer(consume);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            },
            "c1");
    c1.start();
    for (int i = 0; i < 10; i++) {
      produce.send(i);
    }
    produce.close();
    c1.join();
    consume.close();
    System.out.println("main process");
    return 0;
  }

  private static void consumer(Connection conn) throws Exception {
    for (; ; ) {
      try {
        Object item = conn.recv();
        System.out.println("c1 received: " + item);
      } catch (EOFException e) {
        return;
      }
    }
  }
}
