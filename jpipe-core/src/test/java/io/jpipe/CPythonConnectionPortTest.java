package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Ports of CPython's {@code _TestConnection} and {@code _TestPoll}
 * (Lib/test/_test_multiprocessing.py, 3.11), with a thread standing in for the child process; the
 * child-process versions live with {@code ChildProcess}'s tests. Python's {@code array('i')} is an
 * int array in native byte order.
 */
class CPythonConnectionPortTest {
  private static final byte[] SENTINEL = new byte[0];

  /** The pipe under test: a kernel pipe here, a shared-memory one in a subclass. */
  Pipe pipe(boolean duplex) throws java.io.IOException {
    return Pipe.open(duplex);
  }

  /** The child of test_connection: echoes byte messages until the empty one. */
  private static Object echo(Connection conn) throws Exception {
    for (byte[] msg = conn.recvBytes(); msg.length != 0; msg = conn.recvBytes()) {
      conn.sendBytes(msg);
    }
    conn.close();
    return null;
  }

  private static byte[] ints(int... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.nativeOrder());
    for (int v : values) {
      b.putInt(v);
    }
    return b.array();
  }

  @Test
  void test_connection() throws Exception {
    Pipe pipe = pipe(true);
    Connection conn = pipe.conn1();
    Connection childConn = pipe.conn2();
    CompletableFuture<Object> child = async(() -> echo(childConn));

    List<Object> seq = Arrays.asList(1, 2.25, null);
    byte[] msg = "hello world".getBytes(StandardCharsets.ISO_8859_1);
    byte[] longmsg = "hello world".repeat(10).getBytes(StandardCharsets.ISO_8859_1);
    byte[] arr = ints(0, 1, 2, 3);

    assertTrue(conn.fileno() >= 0);

    conn.send(seq);
    assertEquals(seq, conn.recv());

    conn.sendBytes(msg);
    assertArrayEquals(msg, conn.recvBytes());

    byte[] buffer = new byte[40];
    conn.sendBytes(arr);
    assertEquals(16, conn.recvBytesInto(buffer));
    assertArrayEquals(ints(0, 1, 2, 3, 0, 0, 0, 0, 0, 0), buffer);

    buffer = new byte[40];
    conn.sendBytes(arr);
    assertEquals(16, conn.recvBytesInto(buffer, 3 * 4));
    assertArrayEquals(ints(0, 0, 0, 0, 1, 2, 3, 0, 0, 0), buffer);

    byte[] spaces = " ".repeat(40).getBytes(StandardCharsets.ISO_8859_1);
    conn.sendBytes(longmsg);
    BufferTooShortException e =
        assertThrows(BufferTooShortException.class, () -> conn.recvBytesInto(spaces));
    assertArrayEquals(longmsg, e.message());

    long t0 = System.nanoTime();
    assertFalse(conn.poll());
    assertFalse(conn.poll(Duration.ofMillis(-1000)));
    assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "immediate polls do not wait");
    t0 = System.nanoTime();
    assertFalse(conn.poll(Duration.ofMillis(100))); // TIMEOUT1
    assertTrue(System.nanoTime() - t0 >= 99_000_000L, "the bounded poll waited");

    conn.send(null);
    Thread.sleep(100);
    assertTrue(conn.poll(Duration.ofMillis(100)));
    assertNull(conn.recv());

    byte[] reallyBigMsg = new byte[16 << 20];
    Arrays.fill(reallyBigMsg, (byte) 'X');
    conn.sendBytes(reallyBigMsg);
    assertArrayEquals(reallyBigMsg, conn.recvBytes());

    conn.sendBytes(SENTINEL); // tell child to quit
    TestSupport.await(child);
    childConn.close();

    assertTrue(conn.isReadable());
    assertTrue(conn.isWritable());
    assertThrows(EOFException.class, conn::recv);
    assertThrows(EOFException.class, conn::recvBytes);
    conn.close();
  }

  @Test
  void test_duplex_false() throws Exception {
    Pipe pipe = pipe(false);
    Connection reader = pipe.conn1();
    Connection writer = pipe.conn2();
    writer.send(1);
    assertEquals(1, reader.recv());
    assertTrue(reader.isReadable());
    assertFalse(reader.isWritable());
    assertFalse(writer.isReadable());
    assertTrue(writer.isWritable());
    assertThrows(NonWritableChannelException.class, () -> reader.send(2));
    assertThrows(NonReadableChannelException.class, writer::recv);
    assertThrows(NonReadableChannelException.class, writer::poll);
    pipe.close();
  }

  @Test
  void test_sendbytes() throws Exception {
    byte[] msg = "abcdefghijklmnopqrstuvwxyz".getBytes(StandardCharsets.ISO_8859_1);
    try (Pipe pipe = pipe(true)) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();

      a.sendBytes(msg);
      assertArrayEquals(msg, b.recvBytes());

      a.sendBytes(msg, 5);
      assertArrayEquals(Arrays.copyOfRange(msg, 5, 26), b.recvBytes());

      a.sendBytes(msg, 7, 8);
      assertArrayEquals(Arrays.copyOfRange(msg, 7, 15), b.recvBytes());

      a.sendBytes(msg, 26);
      assertArrayEquals(new byte[0], b.recvBytes());

      a.sendBytes(msg, 26, 0);
      assertArrayEquals(new byte[0], b.recvBytes());

      assertThrows(IndexOutOfBoundsException.class, () -> a.sendBytes(msg, 27));
      assertThrows(IndexOutOfBoundsException.class, () -> a.sendBytes(msg, 22, 5));
      assertThrows(IndexOutOfBoundsException.class, () -> a.sendBytes(msg, 26, 1));
      assertThrows(IndexOutOfBoundsException.class, () -> a.sendBytes(msg, -1));
      assertThrows(IndexOutOfBoundsException.class, () -> a.sendBytes(msg, 4, -1));
    }
  }

  @Test
  void test_context() throws Exception {
    Pipe pipe = pipe(true);
    Connection a = pipe.conn1();
    Connection b = pipe.conn2();
    try (a;
        b) {
      a.send(1729);
      assertEquals(1729, b.recv());
      assertFalse(a.isClosed());
      assertFalse(b.isClosed());
    }
    assertTrue(a.isClosed());
    assertTrue(b.isClosed());
    assertThrows(ClosedChannelException.class, a::recv);
    assertThrows(ClosedChannelException.class, b::recv);
  }

  // ---------------------------------------------------------------- _TestPoll

  @Test
  void test_empty_string() throws Exception {
    try (Pipe pipe = pipe(true)) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();
      assertFalse(a.poll());
      b.sendBytes(new byte[0]);
      assertTrue(a.poll());
      assertTrue(a.poll());
    }
  }

  @Test
  void test_strings() throws Exception {
    List<String> strings = List.of("hello", "", "a", "b", "", "bye", "", "lop");
    try (Pipe pipe = pipe(true)) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();
      CompletableFuture<Object> child =
          async(
              () -> {
                for (String s : strings) {
                  Thread.sleep(100);
                  b.sendBytes(s.getBytes(StandardCharsets.US_ASCII));
                }
                b.close();
                return null;
              });
      for (String s : strings) {
        for (int i = 0; i < 200; i++) {
          if (a.poll(Duration.ofMillis(10))) {
            break;
          }
        }
        assertEquals(s, new String(a.recvBytes(), StandardCharsets.US_ASCII));
      }
      TestSupport.await(child);
    }
  }

  @Test
  void test_boundaries() throws Exception {
    Pipe pipe = pipe(false);
    Connection r = pipe.conn1();
    Connection w = pipe.conn2();
    // Polling must never pull part of a message out of the pipe.
    CompletableFuture<Boolean> child = async(() -> r.poll(Duration.ofSeconds(5)));
    Thread.sleep(500);
    List<String> sent = List.of("first", "second");
    for (String s : sent) {
      w.sendBytes(s.getBytes(StandardCharsets.US_ASCII));
    }
    w.close();
    assertTrue(TestSupport.await(child));
    assertTrue(sent.contains(new String(r.recvBytes(), StandardCharsets.US_ASCII)));
    r.close();
  }

  @Test
  void test_dont_merge() throws Exception {
    try (Pipe pipe = pipe(true)) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();
      assertFalse(a.poll(Duration.ZERO));
      assertFalse(a.poll(Duration.ofMillis(100)));
      CompletableFuture<Object> child =
          async(
              () -> {
                b.sendBytes(new byte[] {'a'});
                b.sendBytes(new byte[] {'b'});
                b.sendBytes(new byte[] {'c', 'd'});
                return null;
              });
      assertArrayEquals(new byte[] {'a'}, a.recvBytes());
      assertTrue(a.poll(Duration.ofSeconds(1)));
      assertTrue(a.poll(Duration.ofSeconds(1)));
      assertArrayEquals(new byte[] {'b'}, a.recvBytes());
      assertTrue(a.poll(Duration.ofSeconds(1)));
      assertTrue(a.poll(Duration.ofSeconds(1)));
      assertTrue(a.poll(Duration.ZERO));
      assertArrayEquals(new byte[] {'c', 'd'}, a.recvBytes());
      TestSupport.await(child);
    }
  }
}
