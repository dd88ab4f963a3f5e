package com.example.app;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/** Four children compute parts of a sum and send them back, each with what it saw of its JVM. */
public final class Job {
  private Job() {}

  /** What a child sends back: one of this application's own classes. */
  record Part(String child, long sum, boolean opens, String color) implements Serializable {}

  /** A worker: the sum of the squares of [from, to). */
  static void squares(Connection out, int from, int to) throws IOException {
    long sum = 0;
    for (long i = from; i < to; i++) {
      sum += i * i;
    }
    out.send(part(sum));
    out.close();
  }

  private static Part part(long sum) {
    boolean opens = Object.class.getModule().isOpen("java.lang", Job.class.getModule());
    return new Part(
        ChildProcess.currentName(), sum, opens, System.getProperty("adoption.color", "unset"));
  }

  /**
   * Runs the job and describes what happened, in one line.
   *
   * @param mode how the program was started
   * @return the line
   */
  public static String run(String mode) throws Exception {
    Pipe pipe = Pipe.open(false);
    List<ChildProcess> children = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      children.add(
          ChildProcess.of(Job::squares, pipe.conn2(), k * 100, (k + 1) * 100).name("worker-" + k));
    }
    String greeting = "hello";
    children.add( // a lambda that captures a value travels serialized, not as a method name
        ChildProcess.of((Connection out) -> out.send(part(greeting.length())), pipe.conn2())
            .name("lambda"));
    for (ChildProcess c : children) {
      c.start();
    }
    pipe.conn2().close();
    long sum = 0;
    TreeSet<String> names = new TreeSet<>();
    TreeSet<String> seen = new TreeSet<>();
    for (int i = 0; i < children.size(); i++) {
      Part p = (Part) pipe.conn1().recv();
      sum += p.sum();
      names.add(p.child());
      seen.add("opens=" + p.opens() + " color=" + p.color());
    }
    TreeSet<Integer> codes = new TreeSet<>();
    for (ChildProcess c : children) {
      c.join();
      codes.add(c.exitCode().orElseThrow());
    }
    pipe.conn1().close();
    return "mode="
        + mode
        + " children="
        + children.size()
        + " sum="
        + sum
        + " names="
        + names
        + " exit="
        + codes
        + " "
        + String.join(";", seen);
  }
}
