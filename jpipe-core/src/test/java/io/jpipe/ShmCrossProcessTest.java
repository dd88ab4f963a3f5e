package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Shared-memory ends passed to child processes: the child maps the same segment and inherits the
 * socket, messages of every size cross both ways, {@link Connections#waitAny} wakes on them, and
 * end of file comes only when every copy of the peer end is closed in every process.
 */
class ShmCrossProcessTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  private static Pipe shm(boolean duplex) throws java.io.IOException {
    return Pipe.builder().duplex(duplex).sharedMemory(16 * 1024).open();
  }

  @Test
  void aChildEchoesMessagesOfEverySizeThroughTheRings() throws Exception {
    try (Pipe pipe = shm(true)) {
      ChildProcess p = ChildProcess.of(Children::echo, pipe.conn2());
      p.start();
      pipe.conn2().close();
      Connection c = pipe.conn1();
      assertTrue(c.isSharedMemory());
      int[] sizes = {1, 7, 8, 9, 100, 4096, 16_376, 16_377, 16_384, 50_000, 1 << 20};
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < sizes.length; i++) {
          byte[] m = TestSupport.payload(round * 100 + i, sizes[i]);
          c.sendBytes(m);
          assertArrayEquals(m, c.recvBytes(), "size " + sizes[i]);
        }
      }
      c.sendBytes(new byte[0]); // the echo's end
      assertThrows(EOFException.class, c::recvBytes, "the child closed its end");
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void waitAnyWakesOnAMessageFromAChild() throws Exception {
    try (Pipe a = shm(false);
        Pipe b = shm(true)) {
      ChildProcess p = ChildProcess.of(Children::sendBack, b.conn2(), "hello");
      p.start();
      b.conn2().close();
      List<Connection> ready =
          Connections.waitAny(List.of(a.conn1(), b.conn1()), TestSupport.PATIENCE);
      assertEquals(List.of(b.conn1()), ready);
      assertEquals("hello", b.conn1().recv());
      assertEquals(List.of(), Connections.waitAny(List.of(a.conn1()), Duration.ofMillis(50)));
      p.join();
    }
  }

  @ParameterizedTest(name = "duplex={0}")
  @ValueSource(booleans = {false, true})
  void endOfFileWaitsForEveryCopyInEveryProcess(boolean duplex) throws Exception {
    try (Pipe pipe = shm(duplex)) {
      CrossProcessEofTest.parentReceivesEofOnlyWhenTheChildClosesItsCopyToo(pipe);
    }
  }

  @ParameterizedTest(name = "duplex={0}")
  @ValueSource(booleans = {false, true})
  void aChildReceivesEveryMessageThenEndOfFile(boolean duplex) throws Exception {
    try (Pipe pipe = shm(duplex)) {
      CrossProcessEofTest.childReceivesEofWhenEveryCopyIsClosed(pipe, 500);
    }
  }

  @Test
  void aSenderSeesABrokenPipeWhenTheChildHoldingTheReceiverIsKilled() throws Exception {
    try (Pipe pipe = shm(false)) {
      ChildProcess p = ChildProcess.of(Children::waitForMessage, pipe.conn1());
      p.start();
      pipe.conn1().close();
      p.kill();
      p.join();
      assertThrows(
          BrokenPipeException.class,
          () -> {
            for (int i = 0; i < 1_000_000; i++) { // fills the ring, then finds no reader
              pipe.conn2().sendBytes(new byte[100]);
            }
          });
    }
  }
}
