package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.Access;
import java.io.NotSerializableException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The lifecycle of child JVMs, as CPython's Process has it. */
class ChildProcessTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** Lets background work settle before descriptors are counted (warm spares, in a subclass). */
  void quiesce() {}

  private static int run(ChildProcess p) throws Exception {
    p.start();
    assertTrue(p.join(TestSupport.PATIENCE), "child did not exit");
    return p.exitCode().orElseThrow();
  }

  @Test
  void exitCodesAreCPythons() throws Exception {
    assertEquals(0, run(ChildProcess.of(Children::returnNormally)));
    assertEquals(1, run(ChildProcess.of(Children::throwUncaught).name("thrower")));
    assertEquals(7, run(ChildProcess.of(Children::exitWith, 7)));
    assertEquals(0, run(ChildProcess.of(Children::exitWith, 0)));
  }

  @Test
  void terminateIsMinusFifteenAndKillMinusNine() throws Exception {
    ChildProcess t = ChildProcess.of(Children::sleepMillis, 600_000);
    t.start();
    assertTrue(t.isAlive());
    assertEquals(OptionalInt.empty(), t.exitCode());
    t.terminate();
    assertTrue(t.join(TestSupport.PATIENCE));
    assertEquals(-15, t.exitCode().orElseThrow());
    assertFalse(t.isAlive());
    t.terminate(); // no-op after exit
    t.kill();

    ChildProcess k = ChildProcess.of(Children::sleepMillis, 600_000);
    k.start();
    k.kill();
    k.join();
    assertEquals(-9, k.exitCode().orElseThrow());
  }

  private static ChildProcess await(CompletableFuture<ChildProcess> exit) throws Exception {
    return exit.get(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Test
  void onExitCompletesOnceTheChildIsReapedWithItsExitCode() throws Exception {
    ChildProcess normal = ChildProcess.of(Children::exitWith, 3);
    assertThrows(IllegalStateException.class, normal::onExit, "only a started child has an exit");
    normal.start();
    assertSame(normal, await(normal.onExit()));
    assertEquals(3, normal.exitCode().orElseThrow(), "the exit code is there when it completes");
    assertFalse(normal.isAlive());

    ChildProcess killed = ChildProcess.of(Children::sleepMillis, 600_000);
    killed.start();
    CompletableFuture<ChildProcess> exit = killed.onExit();
    assertFalse(exit.isDone(), "the child sleeps for ten minutes");
    killed.kill();
    assertEquals(-9, await(exit).exitCode().orElseThrow());
    assertEquals(-9, await(killed.onExit()).exitCode().orElseThrow(), "after the exit too");
  }

  @Test
  void onExitFuturesAreIndependentAndTheirActionsMayBlock() throws Exception {
    ChildProcess a = ChildProcess.of(Children::sleepMillis, 600_000);
    ChildProcess b = ChildProcess.of(Children::sleepMillis, 600_000);
    a.start();
    b.start();
    assertTrue(a.onExit().cancel(true), "a future of one's own");
    assertTrue(a.isAlive(), "cancelling it changes nothing");
    // An action that waits for b's exit: run where children are reaped, it would stop b's reaping.
    CompletableFuture<Integer> afterBoth =
        a.onExit().thenApply(p -> b.onExit().join().exitCode().orElseThrow());
    a.kill();
    a.join();
    b.kill();
    assertEquals(-9, afterBoth.get(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS));
  }

  @Test
  void joinWithATimeoutReturnsWhetherTheChildExited() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      ChildProcess p = ChildProcess.of(Children::waitForMessage, pipe.conn2());
      p.start();
      assertFalse(p.join(Duration.ofMillis(100)));
      assertFalse(p.join(Duration.ofMillis(-5)));
      assertTrue(p.isAlive());
      pipe.conn1().send("go");
      assertTrue(p.join(TestSupport.PATIENCE));
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void misuseIsAClearError() throws Exception {
    ChildProcess p = ChildProcess.of(Children::returnNormally);
    assertThrows(IllegalStateException.class, p::join);
    assertThrows(IllegalStateException.class, () -> p.join(Duration.ofSeconds(1)));
    assertThrows(IllegalStateException.class, p::pid);
    assertThrows(IllegalStateException.class, p::sentinel);
    assertThrows(IllegalStateException.class, p::terminate);
    assertFalse(p.isAlive());
    assertEquals(OptionalInt.empty(), p.exitCode());
    p.start();
    assertThrows(IllegalStateException.class, p::start);
    assertThrows(IllegalStateException.class, () -> p.daemon(true));
    p.join();
    p.close();
    assertThrows(IllegalStateException.class, p::sentinel);
  }

  @Test
  void closeIsRefusedWhileRunning() throws Exception {
    ChildProcess p = ChildProcess.of(Children::sleepMillis, 600_000);
    p.start();
    assertThrows(IllegalStateException.class, p::close);
    p.kill();
    p.join();
    p.close();
  }

  @Test
  void aTargetOrArgumentThatCannotBeSerializedStartsNothing() throws Exception {
    Object notSerializable = new Object();
    ChildProcess p = ChildProcess.of(Children::sendBack, (Connection) null, notSerializable);
    Set<Long> before = TestSupport.children().keySet(); // a warm spare may be waiting
    assertThrows(NotSerializableException.class, p::start);
    assertEquals(before, TestSupport.children().keySet());
    ChildProcess.Target0 capturing = () -> System.out.println(notSerializable);
    assertThrows(NotSerializableException.class, () -> ChildProcess.of(capturing).start());
  }

  @Test
  void aStartThatFailsBeforeTheSpawnLeavesTheProcessUnstarted() throws Exception {
    List<Object> payload = new ArrayList<>(List.of("ok", new Object()));
    try (Pipe pipe = Pipe.open()) {
      ChildProcess p = ChildProcess.of(Children::sendBack, pipe.conn2(), payload);
      assertThrows(NotSerializableException.class, p::start);
      assertFalse(p.isAlive());
      assertEquals(OptionalInt.empty(), p.exitCode());
      assertTrue(p.toString().contains("initial"), p.toString());
      assertThrows(IllegalStateException.class, p::join, "join needs a started process");
      payload.remove(1);
      p.start(); // not "cannot start a process twice"
      assertEquals(List.of("ok"), pipe.conn1().recv());
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void inheritedDescriptorsAreCloseOnExecInTheChild() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      ChildProcess p = ChildProcess.of(Children::reportCloseOnExec, pipe.conn2());
      p.start();
      assertEquals(true, pipe.conn1().recv(), "a program the child runs does not inherit it");
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void aClosedConnectionCannotBePassed() throws Exception {
    Pipe pipe = Pipe.open();
    pipe.close();
    assertThrows(
        ClosedChannelException.class, () -> ChildProcess.of(Children::echo, pipe.conn1()).start());
  }

  @Test
  void aChildJvmThatCannotBootIsAStartError() throws Exception {
    ProcessStartException e =
        assertThrows(
            ProcessStartException.class,
            () -> ChildProcess.of(Children::returnNormally).jvmOptions("-Xno-such-option").start());
    assertEquals(1, e.exitCode());
    assertTrue(e.getMessage().contains("before running its target"), e.getMessage());
  }

  @Test
  void aChildThatCannotDecodeItsTaskIsAStartError() throws Exception {
    ProcessStartException e =
        assertThrows(
            ProcessStartException.class,
            () ->
                ChildProcess.of(Children::takes, new Children.RefusedInChild(1))
                    .jvmOptions("-Djpipe.test.refuse=true")
                    .start());
    assertTrue(e.getMessage().contains("refused on purpose in the child"), e.getMessage());
  }

  @Test
  void aChildThatDoesNotComeUpInTimeIsKilled() throws Exception {
    ProcessStartException e =
        assertThrows(
            ProcessStartException.class,
            () ->
                ChildProcess.of(Children::returnNormally)
                    // the child JVM hangs while creating its class loader, before main
                    .jvmOptions("-Djava.system.class.loader=" + HangingLoader.class.getName())
                    .startTimeout(Duration.ofMillis(500))
                    .start());
    assertTrue(e.getMessage().contains("did not start within"), e.getMessage());
    assertEquals(-9, e.exitCode());
  }

  @Test
  void argumentsArriveEqual() throws Exception {
    List<Object> value = new ArrayList<>(List.of(1, "two", 3.0, List.of(4), Map.of("five", 5)));
    try (Pipe pipe = Pipe.open()) {
      ChildProcess p = ChildProcess.of(Children::sendBack, pipe.conn2(), (Object) value);
      p.start();
      pipe.conn2().close();
      assertEquals(value, pipe.conn1().recv());
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void nameAndPidAndToString() throws Exception {
    ChildProcess p = ChildProcess.of(Children::returnNormally).name("worker-1");
    assertEquals("worker-1", p.name());
    assertTrue(p.toString().contains("initial"), p.toString());
    p.start();
    assertTrue(p.pid() > 0);
    p.join();
    assertTrue(p.toString().contains("exitcode=0"), p.toString());
    assertTrue(ChildProcess.of(Children::returnNormally).name().startsWith("ChildProcess-"));
    assertEquals("MainProcess", ChildProcess.currentName());
  }

  @Test
  void theChildKnowsItsNameAndSharesTheParentsStandardStreams() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ChildProcessTest::describeSelf, pipe.conn2()).name("me");
      p.start();
      pipe.conn2().close();
      @SuppressWarnings("unchecked")
      List<String> got = (List<String>) pipe.conn1().recv();
      p.join();
      assertEquals("me", got.get(0));
      for (int fd = 0; fd <= 2; fd++) {
        String mine = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        assertEquals(mine, got.get(1 + fd), "fd " + fd + " is the parent's");
      }
    }
  }

  static void describeSelf(Connection conn) throws Exception {
    List<String> out = new ArrayList<>();
    out.add(ChildProcess.currentName());
    for (int fd = 0; fd <= 2; fd++) {
      out.add(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString());
    }
    conn.send(out);
    conn.close();
  }

  /** The child gets the descriptors of its connection arguments, and nothing else of ours. */
  @Test
  void theChildInheritsExactlyItsConnections() throws Exception {
    try (Pipe reply = Pipe.open();
        Pipe passed = Pipe.open(false);
        Pipe unrelated = Pipe.open();
        ProcessLock lock = ProcessLock.create()) {
      Set<String> expected =
          Set.of(
              TestSupport.fdTarget(reply.conn2().fileno()),
              TestSupport.fdTarget(passed.conn1().fileno()),
              TestSupport.fdTarget(Access.locks().mutex(lock).channel().fd()));
      ChildProcess p =
          ChildProcess.of(ChildProcessTest::reportFdsWith, reply.conn2(), passed.conn1(), lock);
      p.start();
      reply.conn2().close();
      @SuppressWarnings("unchecked")
      List<String> fds = (List<String>) reply.conn1().recv();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());

      Set<String> inherited = new HashSet<>();
      for (String line : fds) {
        int fd = Integer.parseInt(line.substring(0, line.indexOf(' ')));
        String target = line.substring(line.indexOf(' ') + 1);
        if (fd <= 2) {
          continue; // stdin, stdout and stderr are the parent's, as in CPython
        }
        if (target.startsWith("socket:")
            || target.startsWith("pipe:")
            || target.contains("memfd:")) {
          inherited.add(target);
        }
      }
      assertEquals(expected, inherited, "the child's descriptors: " + fds);
      assertFalse(inherited.contains(TestSupport.fdTarget(unrelated.conn1().fileno())));
    }
  }

  /** A system class loader that never finishes being created. */
  public static final class HangingLoader extends ClassLoader {
    public HangingLoader(ClassLoader parent) throws InterruptedException {
      super(parent);
      Thread.sleep(Long.MAX_VALUE);
    }
  }

  static void reportFdsWith(Connection reply, Connection passed, ProcessLock lock)
      throws Exception {
    assertTrue(passed.isReadable() && !passed.isWritable());
    Children.reportFds(reply);
  }

  /** A duplicate of {@code fd} numbered at least 50, as CPython's get_high_socket_fd. */
  static int highDescriptor(int fd) {
    io.jpipe.internal.io.Scratch s = io.jpipe.internal.io.Scratch.get();
    int high = io.jpipe.internal.posix.Libc.fcntl(s.errno, fd, 1030 /* F_DUPFD_CLOEXEC */, 50);
    assertTrue(high >= 50, "F_DUPFD_CLOEXEC failed");
    return high;
  }

  @Test
  void childrenLeaveNoDescriptorBehind() throws Exception {
    run(ChildProcess.of(Children::returnNormally)); // the reaper's own eventfd exists from here on
    quiesce();
    System.gc();
    Thread.sleep(100);
    int before = TestSupport.fdCount();
    for (int i = 0; i < 10; i++) {
      try (Pipe pipe = Pipe.open(i % 2 == 0);
          ProcessLock lock = ProcessLock.create()) {
        ChildProcess p =
            ChildProcess.of(Children::sendBack, pipe.conn2(), (Object) lock.toString());
        p.start();
        pipe.conn2().close();
        pipe.conn1().recv();
        p.join();
        if (i % 3 == 0) {
          p.close();
        }
      }
    }
    quiesce();
    TestSupport.eventually(
        "descriptors released",
        () -> {
          System.gc();
          return TestSupport.fdCount() <= before;
        });
  }

  @Test
  void manyChildrenAtOnceAreAllReaped() throws Exception {
    List<ChildProcess> ps = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      ChildProcess p = ChildProcess.of(Children::exitWith, i);
      p.start();
      ps.add(p);
    }
    for (int i = 0; i < ps.size(); i++) {
      ps.get(i).join();
      assertEquals(i, ps.get(i).exitCode().orElseThrow());
    }
    quiesce();
    TestSupport.assertNoChildren(); // no zombies, even without join
    ChildProcess unjoined = ChildProcess.of(Children::returnNormally);
    unjoined.start();
    TestSupport.eventually("reaped without join", () -> !TestSupport.exists(unjoined.pid()));
    assertNotEquals(OptionalInt.empty(), unjoined.exitCode());
  }
}
