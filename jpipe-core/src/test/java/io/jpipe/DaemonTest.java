package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What happens to children when their parent ends. The parent here is itself a child JVM (the
 * "middle"), so the test can watch its children (the grandchildren) outlive it or not.
 */
class DaemonTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** Middle: starts a grandchild, reports its pid, then ends as told. */
  static void middle(Connection report, Boolean daemonChild, Integer childMillis, String end)
      throws Exception {
    ChildProcess g =
        ChildProcess.of(Children::sleepMillis, childMillis).daemon(daemonChild).name("grandchild");
    g.start();
    report.send(g.pid());
    if (end.equals("hang")) {
      Thread.sleep(600_000); // until killed
    }
    // "return": the JVM exits; the shutdown hook handles the grandchild
  }

  /** Dead, or a zombie whose new parent has not reaped it yet. */
  private static boolean gone(long pid) {
    try {
      String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
      return stat.substring(stat.lastIndexOf(')') + 2).charAt(0) == 'Z';
    } catch (java.io.IOException e) {
      return true; // no such process
    }
  }

  @Test
  void aDaemonChildDiesWhenItsParentIsKilled() throws Exception {
    try (Pipe report = Pipe.open(false)) {
      ChildProcess m = ChildProcess.of(DaemonTest::middle, report.conn2(), true, 600_000, "hang");
      m.start();
      long grandchild = (Long) report.conn1().recv();
      assertTrue(TestSupport.exists(grandchild) && !gone(grandchild));
      m.kill(); // SIGKILL: no shutdown hook runs in the middle
      m.join();
      TestSupport.eventually("the daemon grandchild to die", () -> gone(grandchild));
    }
  }

  @Test
  void aDaemonChildIsTerminatedWhenItsParentExits() throws Exception {
    try (Pipe report = Pipe.open(false)) {
      ChildProcess m = ChildProcess.of(DaemonTest::middle, report.conn2(), true, 600_000, "return");
      m.start();
      long grandchild = (Long) report.conn1().recv();
      m.join();
      assertEquals(0, m.exitCode().orElseThrow());
      TestSupport.eventually("the daemon grandchild to die", () -> gone(grandchild));
    }
  }

  @Test
  void aParentWaitsForItsNonDaemonChildrenBeforeExiting() throws Exception {
    try (Pipe report = Pipe.open(false)) {
      ChildProcess m = ChildProcess.of(DaemonTest::middle, report.conn2(), false, 1500, "return");
      m.start();
      long grandchild = (Long) report.conn1().recv();
      long t0 = System.nanoTime();
      m.join();
      assertEquals(0, m.exitCode().orElseThrow());
      assertTrue(gone(grandchild), "the middle exited before its non-daemon child");
      assertTrue(System.nanoTime() - t0 > 500_000_000L, "the middle waited for its child");
    }
  }

  /** Middle that is a daemon and tries to start a child. */
  static void daemonStartsChild(Connection report) throws Exception {
    try {
      ChildProcess.of(Children::returnNormally).start();
      report.send("started");
    } catch (IllegalStateException e) {
      report.send("refused: " + e.getMessage());
    }
  }

  @Test
  void aDaemonMayNotStartChildren() throws Exception {
    try (Pipe report = Pipe.open(false)) {
      ChildProcess m = ChildProcess.of(DaemonTest::daemonStartsChild, report.conn2()).daemon(true);
      m.start();
      assertEquals(
          "refused: a daemon process may not start child processes", report.conn1().recv());
      m.join();
    }
  }

  @Test
  void aNonDaemonChildOutlivesAKilledParent() throws Exception {
    try (Pipe report = Pipe.open(false)) {
      ChildProcess m = ChildProcess.of(DaemonTest::middle, report.conn2(), false, 600_000, "hang");
      m.start();
      long grandchild = (Long) report.conn1().recv();
      m.kill();
      m.join();
      Thread.sleep(300);
      assertTrue(!gone(grandchild), "as in CPython, a non-daemon child is not killed");
      // clean up the orphan ourselves
      ProcessHandle.of(grandchild).ifPresent(ProcessHandle::destroyForcibly);
      TestSupport.eventually("the orphan to be gone", () -> gone(grandchild));
    }
  }
}
