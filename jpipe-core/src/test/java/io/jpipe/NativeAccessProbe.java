package io.jpipe;

import io.jpipe.net.Listener;

/**
 * Run without native access by {@link NativeAccessTest}: calls each entry point twice and prints
 * what it threw, one line each.
 */
public final class NativeAccessProbe {
  private NativeAccessProbe() {}

  /** How many entry points are probed. */
  static final int ENTRY_POINTS = 4;

  interface Call {
    void run() throws Exception;
  }

  public static void main(String[] args) {
    for (int round = 0; round < 2; round++) {
      probe("Pipe.open", () -> Pipe.open().close());
      probe("ProcessLock.create", () -> ProcessLock.create().close());
      probe("Listener.open", () -> Listener.open().close());
      probe("ChildProcess.start", () -> ChildProcess.of(Children::returnNormally).start());
    }
  }

  private static void probe(String what, Call call) {
    try {
      call.run();
      System.out.println("probe " + what + ": no exception");
    } catch (Throwable t) {
      System.out.println("probe " + what + ": " + t);
    }
  }
}
