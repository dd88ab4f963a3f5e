package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A process killed at the worst places of the shared-memory protocol, one place per test, at a
 * point the test waits for: the others take its locks over, drop what it left half done, and go on.
 */
class ShmKillPointsTest {
  private static final byte[] AFTER = "after".getBytes(StandardCharsets.US_ASCII);

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  private static Pipe tiny() throws IOException {
    return Pipe.builder().duplex(false).sharedMemory(4096).open();
  }

  /** Child: sends one message of 1 MiB, which sticks in the middle (nobody reads). */
  static void sendHuge(Connection out) throws IOException {
    out.sendBytes(new byte[1 << 20]);
  }

  /** Child: sends numbered messages until the ring is full and it waits for room. */
  static void sendNumbered(Connection out) throws IOException {
    for (int i = 0; ; i++) {
      out.sendBytes(ByteBuffer.allocate(100).putInt(i).putInt(~i).array());
    }
  }

  /** Child: says it is ready, then waits in a receive (holding the ring's read lock). */
  static void receiveOne(Connection in, Connection ready) throws IOException {
    ready.send("ready");
    in.recvBytes();
  }

  /**
   * Starts {@code p}, a writer on {@code pipe}; waits until it has filled the ring and sits waiting
   * for room, then kills it; then sends "after" on a thread of this process, which takes the dead
   * child's write lock over and waits for room.
   *
   * @return the send of "after"
   */
  private static CompletableFuture<Object> killOnceStuckThenSendAfter(ChildProcess p, Pipe pipe)
      throws Exception {
    p.start();
    assertTrue(pipe.conn1().poll(TestSupport.PATIENCE), "the child sends");
    Thread.sleep(300); // 4 KiB fill in microseconds: it is waiting for room now
    assertTrue(p.isAlive(), "the child cannot finish without a reader");
    ShmChildren.kill(p, null);
    return async(
        () -> {
          pipe.conn2().sendBytes(AFTER);
          return null;
        });
  }

  @Test
  void aWriterKilledInTheMiddleOfAChunkedMessageLeavesNothingOfIt() throws Exception {
    try (Pipe pipe = tiny()) {
      // The dead child held the write lock; this writer takes it over and waits for room.
      CompletableFuture<Object> next =
          killOnceStuckThenSendAfter(
              ChildProcess.of(ShmKillPointsTest::sendHuge, pipe.conn2()), pipe);
      assertArrayEquals(AFTER, pipe.conn1().recvBytes(), "the partial message is dropped");
      TestSupport.await(next);
      assertFalse(pipe.conn1().poll());
      pipe.conn2().close();
      assertThrows(EOFException.class, pipe.conn1()::recvBytes);
    }
  }

  @Test
  void aWriterKilledWhileWaitingForRoomLosesNoWholeMessage() throws Exception {
    try (Pipe pipe = tiny()) {
      CompletableFuture<Object> next =
          killOnceStuckThenSendAfter(
              ChildProcess.of(ShmKillPointsTest::sendNumbered, pipe.conn2()), pipe);
      int i = 0;
      for (byte[] m = pipe.conn1().recvBytes(); m.length == 100; m = pipe.conn1().recvBytes()) {
        ByteBuffer b = ByteBuffer.wrap(m);
        assertEquals(i, b.getInt(), "in order, none lost or torn");
        assertEquals(~i, b.getInt());
        i++;
      }
      assertTrue(i > 0, "the child's messages arrived");
      TestSupport.await(next);
      assertFalse(pipe.conn1().poll(), "the last message was \"after\"");
    }
  }

  @Test
  void aReaderKilledWhileWaitingHandsTheNextMessageOn() throws Exception {
    try (Pipe pipe = tiny();
        Pipe ready = Pipe.open(false)) {
      ChildProcess p = ChildProcess.of(ShmKillPointsTest::receiveOne, pipe.conn1(), ready.conn2());
      p.start();
      assertEquals("ready", ready.conn1().recv());
      Thread.sleep(300); // it sleeps in the receive, holding the read lock
      p.kill();
      p.join();
      pipe.conn2().sendBytes(AFTER);
      assertArrayEquals(AFTER, pipe.conn1().recvBytes(), "the read lock is taken over");
    }
  }
}
