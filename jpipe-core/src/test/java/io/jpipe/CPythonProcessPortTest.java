package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.io.Fds;
import io.jpipe.internal.posix.Linux;
import java.io.EOFException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Ports of CPython's process tests (Lib/test/_test_multiprocessing.py, 3.11) with real child JVMs:
 * {@code _TestConnection.test_connection} and {@code test_spawn_close}, {@code
 * _TestPicklingConnections.test_access}, {@code TestWait}, {@code _TestProcess.test_sentinel} and
 * {@code TestCloseFds.test_closefd} (that one is in {@link ChildProcessTest}).
 */
class CPythonProcessPortTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  @Test
  void test_connection() throws Exception {
    Pipe pipe = Pipe.open();
    Connection conn = pipe.conn1();
    Connection childConn = pipe.conn2();
    ChildProcess p = ChildProcess.of(Children::echo, childConn).daemon(true);
    p.start();

    List<Object> seq = Arrays.asList(1, 2.25, null);
    byte[] msg = "hello world".getBytes(StandardCharsets.ISO_8859_1);
    byte[] longmsg = "hello world".repeat(10).getBytes(StandardCharsets.ISO_8859_1);

    conn.send(seq); // the echo child answers bytes, so objects come back as sent
    assertEquals(seq, conn.recv());
    conn.sendBytes(msg);
    assertArrayEquals(msg, conn.recvBytes());

    conn.sendBytes(longmsg);
    BufferTooShortException e =
        assertThrows(BufferTooShortException.class, () -> conn.recvBytesInto(new byte[40]));
    assertArrayEquals(longmsg, e.message());

    assertFalse(conn.poll());
    assertFalse(conn.poll(Duration.ofMillis(-1)));
    assertFalse(conn.poll(Duration.ofMillis(100)));
    conn.send(null);
    Thread.sleep(100);
    assertTrue(conn.poll(Duration.ofMillis(100)));
    assertEquals(null, conn.recv());

    byte[] reallyBigMsg = new byte[16 << 20];
    Arrays.fill(reallyBigMsg, (byte) 'X');
    conn.sendBytes(reallyBigMsg);
    assertArrayEquals(reallyBigMsg, conn.recvBytes());

    conn.sendBytes(new byte[0]); // tell child to quit
    childConn.close();
    assertTrue(conn.isReadable());
    assertTrue(conn.isWritable());
    assertThrows(EOFException.class, conn::recv);
    assertThrows(EOFException.class, conn::recvBytes);
    p.join();
    conn.close();
  }

  @Test
  void test_spawn_close() throws Exception {
    // The parent may close the child's end immediately after start.
    Pipe pipe = Pipe.open();
    Connection conn = pipe.conn1();
    Connection childConn = pipe.conn2();
    ChildProcess p = ChildProcess.of(Children::echo, childConn).daemon(true);
    p.start();
    childConn.close();
    byte[] msg = "hello".getBytes(StandardCharsets.ISO_8859_1);
    conn.sendBytes(msg);
    assertArrayEquals(msg, conn.recvBytes());
    conn.sendBytes(new byte[0]);
    conn.close();
    p.join();
    assertEquals(0, p.exitCode().orElseThrow());
  }

  /**
   * One-way ends keep their direction in the child. CPython sends the ends over an existing
   * connection after the start (fd passing); jpipe passes ends as arguments, so the port hands them
   * over at start and keeps the rest of the exchange.
   */
  @Test
  void test_access() throws Exception {
    Pipe control = Pipe.open();
    Connection conn = control.conn1();
    Pipe first = Pipe.open(false);
    Pipe second = Pipe.open(false);
    ChildProcess p =
        ChildProcess.of(
                CPythonProcessPortTest::childAccess, control.conn2(), first.conn2(), second.conn1())
            .daemon(true);
    p.start();
    control.conn2().close();
    first.conn2().close();
    second.conn1().close();

    assertEquals("all is well", first.conn1().recv());
    first.conn1().close();

    second.conn2().send("foobar");
    second.conn2().close();
    assertEquals("foobar".repeat(2), conn.recv());
    p.join();
    assertEquals(0, p.exitCode().orElseThrow());
    conn.close();
  }

  static void childAccess(Connection conn, Connection w, Connection r) throws Exception {
    if (w.isReadable() || !w.isWritable() || !r.isReadable() || r.isWritable()) {
      throw new AssertionError("directions lost: " + w + " " + r);
    }
    w.send("all is well");
    w.close();
    String msg = (String) r.recv();
    conn.send(msg.repeat(2));
    conn.close();
  }

  // ---------------------------------------------------------------- TestWait

  static void childTestWait(Connection w, Boolean slow) throws Exception {
    java.util.Random rnd = new java.util.Random();
    for (int i = 0; i < 10; i++) {
      if (slow) {
        Thread.sleep(rnd.nextInt(100));
      }
      w.send(List.of(i, ProcessHandle.current().pid()));
    }
    w.close();
  }

  @Test
  void test_wait() throws Exception {
    waitTest(false);
  }

  @Test
  void test_wait_slow() throws Exception {
    waitTest(true);
  }

  private void waitTest(boolean slow) throws Exception {
    List<Connection> readers = new ArrayList<>();
    List<ChildProcess> procs = new ArrayList<>();
    List<List<Long>> messages = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Pipe pipe = Pipe.open(false);
      ChildProcess p =
          ChildProcess.of(CPythonProcessPortTest::childTestWait, pipe.conn2(), slow).daemon(true);
      p.start();
      pipe.conn2().close();
      readers.add(pipe.conn1());
      procs.add(p);
    }
    while (!readers.isEmpty()) {
      for (Connection r : Connections.waitAny(readers)) {
        try {
          @SuppressWarnings("unchecked")
          List<Number> msg = (List<Number>) r.recv();
          messages.add(List.of(msg.get(0).longValue(), msg.get(1).longValue()));
        } catch (EOFException e) {
          readers.remove(r);
          r.close();
        }
      }
    }
    List<List<Long>> expected = new ArrayList<>();
    for (ChildProcess p : procs) {
      for (long i = 0; i < 10; i++) {
        expected.add(List.of(i, p.pid()));
      }
    }
    Comparator<List<Long>> order =
        Comparator.<List<Long>>comparingLong(l -> l.get(0)).thenComparingLong(l -> l.get(1));
    messages.sort(order);
    expected.sort(order);
    assertEquals(expected, messages);
    for (ChildProcess p : procs) {
      p.join();
    }
  }

  @Test
  void test_wait_timeout() throws Exception {
    Duration timeout = Duration.ofSeconds(2); // CPython waits 5 s
    try (Pipe pipe = Pipe.open()) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();
      long start = System.nanoTime();
      List<Connection> res = Connections.waitAny(List.of(a, b), timeout);
      long delta = System.nanoTime() - start;
      assertEquals(List.of(), res);
      assertTrue(delta >= timeout.toNanos() - 1_000_000, "returned after " + delta + " ns");
      b.send(null);
      assertEquals(List.of(a), Connections.waitAny(List.of(a, b), Duration.ofSeconds(20)));
    }
  }

  static void signalAndSleep(Connection started, Integer millis) throws Exception {
    started.send("started");
    started.close();
    Thread.sleep(millis);
  }

  @Test
  void test_wait_integer() throws Exception {
    int expected = 3000;
    try (Pipe sem = Pipe.open(false);
        Pipe pipe = Pipe.open()) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();
      ChildProcess p =
          ChildProcess.of(CPythonProcessPortTest::signalAndSleep, sem.conn2(), expected);
      p.start();
      sem.conn2().close();
      Integer sentinel = p.sentinel();
      assertEquals("started", sem.conn1().recv());

      long start = System.nanoTime();
      List<Object> res = Connections.waitAny(List.of(a, sentinel, b), Duration.ofSeconds(23));
      long deltaMs = (System.nanoTime() - start) / 1_000_000;
      assertEquals(List.of(sentinel), res);
      assertTrue(deltaMs < expected + 2000 && deltaMs > expected - 2000, "waited " + deltaMs);

      a.send(null);
      res = Connections.waitAny(List.of(a, sentinel, b), Duration.ofSeconds(20));
      assertEquals(List.of(sentinel, b), res);

      b.send(null);
      res = Connections.waitAny(List.of(a, sentinel, b), Duration.ofSeconds(20));
      assertEquals(List.of(a, sentinel, b), res);

      // The process object works as well as its sentinel.
      assertEquals(List.of(p), Connections.waitAny(List.of(p), Duration.ZERO));
      p.terminate();
      p.join();
    }
  }

  @Test
  void test_neg_timeout() throws Exception {
    Pipe pipe = Pipe.open();
    Connection a = pipe.conn1();
    long t = System.nanoTime();
    List<Connection> res = Connections.waitAny(List.of(a), Duration.ofSeconds(-1));
    t = System.nanoTime() - t;
    assertEquals(List.of(), res);
    assertTrue(t < 1_000_000_000L);
    pipe.close();
  }

  @Test
  void waitAnyRefusesWhatItCannotWaitOn() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      Connection a = pipe.conn1();
      assertThrows(
          IllegalArgumentException.class, () -> Connections.waitAny(List.of(a, a), Duration.ZERO));
      assertThrows(
          IllegalArgumentException.class,
          () -> Connections.waitAny(List.of(a, a.fileno()), Duration.ZERO));
      assertThrows(
          IllegalArgumentException.class, () -> Connections.waitAny(List.of("x"), Duration.ZERO));
      assertThrows(
          IllegalArgumentException.class, () -> Connections.waitAny(List.of(-1), Duration.ZERO));
      assertThrows(
          IllegalStateException.class,
          () ->
              Connections.waitAny(
                  List.of(ChildProcess.of(Children::returnNormally)), Duration.ZERO));
      pipe.conn2().close();
      assertThrows(
          java.nio.channels.ClosedChannelException.class,
          () -> Connections.waitAny(List.of(pipe.conn2()), Duration.ZERO));
      // an open connection before the closed one: nothing is released that was not acquired
      assertThrows(
          java.nio.channels.ClosedChannelException.class,
          () -> Connections.waitAny(List.of(a, pipe.conn2()), Duration.ZERO));
      assertThrows(
          java.nio.channels.ClosedChannelException.class,
          () -> Connections.waitAny(List.of(pipe.conn2(), a), Duration.ZERO));
      assertThrows(java.nio.channels.ClosedChannelException.class, () -> pipe.conn2().poll());
      assertEquals(List.of(a), Connections.waitAny(List.of(a), Duration.ZERO)); // peer closed: EOF
      assertEquals(List.of(), Connections.waitAny(List.of(), Duration.ofMillis(10)));
    }
  }

  @Test
  void waitAnyIsInterruptible() throws Exception {
    try (Pipe pipe = Pipe.open()) {
      Thread me = Thread.currentThread();
      Thread interrupter =
          new Thread(
              () -> {
                try {
                  Thread.sleep(100);
                } catch (InterruptedException e) {
                  return;
                }
                me.interrupt();
              });
      interrupter.start();
      assertThrows(InterruptedException.class, () -> Connections.waitAny(List.of(pipe.conn1())));
      interrupter.join();
    }
  }

  // ---------------------------------------------------------------- _TestProcess.test_sentinel

  @Test
  void test_sentinel() throws Exception {
    try (Pipe event = Pipe.open()) {
      ChildProcess p = ChildProcess.of(Children::waitForMessage, event.conn2());
      assertThrows(IllegalStateException.class, p::sentinel);
      p.start();
      int sentinel = p.sentinel();
      assertTrue(TestSupport.fdTarget(sentinel).contains("pidfd"), TestSupport.fdTarget(sentinel));
      assertEquals(List.of(), Connections.waitAny(List.of(sentinel), Duration.ZERO));
      event.conn1().send("set");
      p.join();
      assertEquals(
          List.of(sentinel), Connections.waitAny(List.of(sentinel), Duration.ofSeconds(1)));
    }
  }

  @Test
  void test_closefd() throws Exception {
    int[] fds = Fds.socketpair();
    int high = ChildProcessTest.highDescriptor(fds[0]);
    Pipe pipe = Pipe.open();
    Connection reader = pipe.conn1();
    Connection writer = pipe.conn2();
    try {
      ChildProcess p = ChildProcess.of(Children::probeFd, writer, high);
      p.start();
      writer.close();
      Object e = reader.recv();
      p.join();
      assertEquals(Linux.EBADF, e, "the child must not have the parent's descriptor " + high);
    } finally {
      Fds.closeQuietly(high);
      Fds.closeQuietly(fds[0]);
      Fds.closeQuietly(fds[1]);
      writer.close();
      reader.close();
    }
  }
}
