package io.jpipe;

import java.time.Duration;
import java.util.List;

/**
 * A program for {@link WarmStartTest}: starts warm children back to back, makes sure a spare is
 * left (booting, or idle and ready), prints the pids of its live child processes and exits.
 */
public final class WarmParent {
  private WarmParent() {}

  /**
   * Runs it.
   *
   * @param args {@code booting} or {@code idle}: the state of the spare it leaves
   * @throws Exception if a child fails
   */
  public static void main(String[] args) throws Exception {
    ChildProcess.setDefaultStartMethod(ChildProcess.StartMethod.WARM);
    for (int i = 0; i < 3; i++) {
      try (Pipe pipe = Pipe.open()) {
        ChildProcess child = ChildProcess.of(Children::sendBack, pipe.conn2(), (Object) i);
        child.start();
        pipe.conn2().close();
        if (!Integer.valueOf(i).equals(pipe.conn1().recv())) {
          throw new AssertionError("child " + i + " sent something else");
        }
        child.join();
      }
    }
    if (args[0].equals("idle")) {
      if (!ChildProcess.prestartWarm(Duration.ofMinutes(2))) {
        throw new AssertionError("no spare became ready");
      }
    } else {
      ChildProcess.prestartWarm(Duration.ZERO);
    }
    List<ProcessHandle> spares = ProcessHandle.current().children().toList();
    for (long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        spares.isEmpty() && System.nanoTime() - deadline < 0; ) {
      Thread.sleep(10); // the refill spawns on a thread of its own
      spares = ProcessHandle.current().children().toList();
    }
    for (ProcessHandle spare : spares) {
      System.out.println("spare " + spare.pid());
    }
  }
}
