package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Every cross-process test of shared-memory ends again, with children started from warm spares: a
 * spare booted before the pipe existed maps its segment when it takes its task.
 */
class WarmShmCrossProcessTest extends ShmCrossProcessTest implements WarmStarts {
  @Test
  void aSpareBootedBeforeThePipeSendsAndReceivesBothWaysThenEndOfFile() throws Exception {
    assertTrue(ChildProcess.prestartWarm(Duration.ofMinutes(2)), "a spare is ready");
    Instant spareReady = Instant.now();
    try (Pipe pipe = Pipe.builder().duplex(true).sharedMemory(8 * 1024).open()) {
      ChildProcess p =
          ChildProcess.of(Children::echo, pipe.conn2()).startMethod(ChildProcess.StartMethod.WARM);
      p.start();
      pipe.conn2().close();
      Instant childStarted =
          ProcessHandle.of(p.pid()).orElseThrow().info().startInstant().orElseThrow();
      assertTrue(
          childStarted.isBefore(spareReady),
          "the child is the spare booted before the pipe: started "
              + childStarted
              + ", pipe after "
              + spareReady);
      Connection c = pipe.conn1();
      int[] sizes = {1, 8, 100, 8 * 1024 - 8, 8 * 1024 - 7, 40_000, 1 << 20};
      for (int i = 0; i < sizes.length; i++) {
        byte[] m = TestSupport.payload(i, sizes[i]);
        c.sendBytes(m);
        assertArrayEquals(m, c.recvBytes(), "size " + sizes[i]);
      }
      c.sendBytes(new byte[0]); // the echo's end: it closes its end
      assertThrows(EOFException.class, c::recvBytes, "the child closed its end");
      assertTrue(p.join(TestSupport.PATIENCE), "the child ends");
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @Test
  void aSpareReceivesUntilEndOfFileWhenTheParentCloses() throws Exception {
    try (Pipe pipe = Pipe.builder().duplex(false).sharedMemory(8 * 1024).open();
        Pipe back = Pipe.open(false)) {
      ChildProcess p =
          ChildProcess.of(ShmPublicationStressTest::reader, pipe.conn1(), back.conn2())
              .startMethod(ChildProcess.StartMethod.WARM);
      p.start();
      pipe.conn1().close();
      back.conn2().close();
      for (int seq = 0; seq < 200; seq++) {
        pipe.conn2().sendBytes(ShmPublicationStressTest.message(7, seq));
      }
      pipe.conn2().close(); // end of file for the child
      for (int seq = 0; seq < 200; seq++) {
        byte[] r = back.conn1().recvBytes();
        assertEquals(8, r.length, () -> new String(r));
        assertEquals((long) 7 << 32 | seq, java.nio.ByteBuffer.wrap(r).getLong());
      }
      assertThrows(EOFException.class, back.conn1()::recvBytes, "the child saw end of file");
      assertTrue(p.join(TestSupport.PATIENCE), "the child ends");
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }
}
