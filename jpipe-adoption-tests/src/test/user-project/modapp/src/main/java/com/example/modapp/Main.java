package com.example.modapp;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import io.jpipe.pickle.PickleCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Two children, started from the module path, answer over pickle-coded pipes with what their JVM
 * has: the parent's --add-modules, --add-opens and listed -D options must reach them.
 */
public final class Main {
  private Main() {}

  static void child(Connection out, Integer n) throws Exception {
    Map<String, Object> seen = new TreeMap<>();
    seen.put("name", ChildProcess.currentName());
    seen.put("square", n * n);
    seen.put("module", Main.class.getModule().getName());
    seen.put("httpserver", ModuleLayer.boot().findModule("jdk.httpserver").isPresent());
    seen.put("opens", Object.class.getModule().isOpen("java.lang", Main.class.getModule()));
    seen.put("color", System.getProperty("adoption.color", "unset"));
    out.send(seen);
    out.close();
  }

  /**
   * Runs the children and prints what they saw.
   *
   * @param args unused
   */
  public static void main(String[] args) throws Exception {
    for (String line : run()) {
      System.out.println("RESULT " + line);
    }
  }

  /**
   * Runs the children.
   *
   * @return what they saw, and how they exited, sorted
   */
  public static List<String> run() throws Exception {
    Pipe pipe = Pipe.open(false, PickleCodec.create());
    List<ChildProcess> children = new ArrayList<>();
    for (int k = 1; k <= 2; k++) {
      children.add(ChildProcess.of(Main::child, pipe.conn2(), k).name("mod-" + k));
    }
    for (ChildProcess c : children) {
      c.start();
    }
    pipe.conn2().close();
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < children.size(); i++) {
      lines.add(String.valueOf(new TreeMap<Object, Object>((Map<?, ?>) pipe.conn1().recv())));
    }
    for (ChildProcess c : children) {
      c.join();
      lines.add(c.name() + " exit=" + c.exitCode().orElseThrow());
    }
    pipe.conn1().close();
    lines.sort(null);
    return lines;
  }
}
