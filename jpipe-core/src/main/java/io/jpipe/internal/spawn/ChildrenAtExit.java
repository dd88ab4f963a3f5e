package io.jpipe.internal.spawn;

import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What happens to the running children when this JVM exits, as CPython's {@code atexit} handler
 * does: daemon children are terminated, then every child is waited for. A shutdown hook, installed
 * with the first child; it also holds up an exit caused by SIGTERM or Ctrl-C.
 */
public final class ChildrenAtExit {
  private ChildrenAtExit() {}

  /** The running children, each with whether it is a daemon. */
  private static final Map<ChildHandle, Boolean> LIVE = new ConcurrentHashMap<>();

  private static boolean hookInstalled; // guarded by ChildrenAtExit.class

  /**
   * Looks after a started child at JVM exit, until it exits.
   *
   * @param child the child
   * @param daemon whether it is a daemon (terminated at exit) or not (waited for)
   */
  public static void track(ChildHandle child, boolean daemon) {
    installHook();
    LIVE.put(child, daemon);
    child.exit().thenRun(() -> LIVE.remove(child));
  }

  private static synchronized void installHook() {
    if (hookInstalled) {
      return;
    }
    hookInstalled = true;
    Runtime.getRuntime().addShutdownHook(new Thread(ChildrenAtExit::atExit, "jpipe-children-exit"));
  }

  private static void atExit() {
    List<Map.Entry<ChildHandle, Boolean>> children = List.copyOf(LIVE.entrySet());
    for (Map.Entry<ChildHandle, Boolean> c : children) {
      if (c.getValue()) {
        try {
          c.getKey().signal(Linux.SIGTERM);
        } catch (IOException | RuntimeException e) {
          // it is exiting anyway
        }
      }
    }
    for (Map.Entry<ChildHandle, Boolean> c : children) {
      c.getKey().awaitExit();
    }
  }
}
