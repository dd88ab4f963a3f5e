package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Several processes on one pipe: with locks, every message arrives exactly once and whole; without
 * a lock, only writes of at most PIPE_BUF bytes to a one-way pipe are safe, and they are.
 */
class ProcessStressTest {
  static final int PER_PRODUCER = 100_000;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  static int sizeOf(int id, int seq) {
    return seq % 97 == 0 ? 20_000 : 8 + (seq * 31 + id) % 120;
  }

  /** Producer child: sends its messages under the write lock. */
  static void producer(Connection out, ProcessLock wlock, Integer id, Integer count)
      throws Exception {
    for (int i = 0; i < count; i++) {
      byte[] m = ConnectionContract.message(id, i, sizeOf(id, i));
      wlock.lock();
      try {
        out.sendBytes(m);
      } finally {
        wlock.unlock();
      }
    }
    out.close();
  }

  /** Consumer child: receives under the read lock until an empty message; reports what it saw. */
  static void consumer(Connection in, ProcessLock rlock, Connection report, Integer producers)
      throws Exception {
    List<BitSet> seen = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      seen.add(new BitSet());
    }
    int duplicates = 0;
    for (; ; ) {
      byte[] m;
      rlock.lock();
      try {
        m = in.recvBytes();
      } finally {
        rlock.unlock();
      }
      if (m.length == 0) {
        break;
      }
      ByteBuffer b = ByteBuffer.wrap(m);
      int id = b.getInt();
      int seq = b.getInt();
      ConnectionContract.check(m, id, seq, sizeOf(id, seq)); // throws if torn
      if (seen.get(id).get(seq)) {
        duplicates++;
      }
      seen.get(id).set(seq);
    }
    in.close();
    report.send(new ArrayList<Object>(List.of(seen, duplicates)));
    report.close();
  }

  @Test
  void twoProducersAndTwoConsumersUnderLocksDeliverEveryMessageOnce() throws Exception {
    Pipe pipe = Pipe.open();
    Connection sending = pipe.conn1();
    Connection receiving = pipe.conn2();
    try (ProcessLock wlock = ProcessLock.create();
        ProcessLock rlock = ProcessLock.create()) {
      List<ChildProcess> producers = new ArrayList<>();
      List<ChildProcess> consumers = new ArrayList<>();
      List<Connection> reports = new ArrayList<>();
      for (int c = 0; c < 2; c++) {
        Pipe report = Pipe.open(false);
        ChildProcess p =
            ChildProcess.of(ProcessStressTest::consumer, receiving, rlock, report.conn2(), 2)
                .name("consumer-" + c);
        p.start();
        report.conn2().close();
        consumers.add(p);
        reports.add(report.conn1());
      }
      receiving.close();
      for (int id = 0; id < 2; id++) {
        ChildProcess p =
            ChildProcess.of(ProcessStressTest::producer, sending, wlock, id, PER_PRODUCER)
                .name("producer-" + id);
        p.start();
        producers.add(p);
      }
      for (ChildProcess p : producers) {
        p.join();
        assertEquals(0, p.exitCode().orElseThrow(), p.toString());
      }
      sending.sendBytes(new byte[0]); // one stop message per consumer
      sending.sendBytes(new byte[0]);
      sending.close();

      BitSet[] union = {new BitSet(), new BitSet()};
      int total = 0;
      for (int c = 0; c < 2; c++) {
        @SuppressWarnings("unchecked")
        List<Object> r = (List<Object>) reports.get(c).recv();
        @SuppressWarnings("unchecked")
        List<BitSet> seen = (List<BitSet>) r.get(0);
        assertEquals(0, r.get(1), "duplicates in consumer " + c);
        for (int id = 0; id < 2; id++) {
          assertFalse(union[id].intersects(seen.get(id)), "a message reached both consumers");
          union[id].or(seen.get(id));
          total += seen.get(id).cardinality();
        }
        consumers.get(c).join();
        assertEquals(0, consumers.get(c).exitCode().orElseThrow());
        reports.get(c).close();
      }
      assertEquals(2 * PER_PRODUCER, total);
      for (int id = 0; id < 2; id++) {
        assertEquals(PER_PRODUCER, union[id].nextClearBit(0), "producer " + id + " lost messages");
      }
    }
  }

  /** Unlocked producer child: frames of at most PIPE_BUF bytes on a one-way pipe. */
  static void unlockedProducer(Connection out, Integer id, Integer count) throws Exception {
    for (int i = 0; i < count; i++) {
      out.sendBytes(ConnectionContract.message(id, i, smallSizeOf(id, i)));
    }
    out.close();
  }

  /** Payload sizes up to 4092, so each frame (4-byte header included) is at most PIPE_BUF. */
  static int smallSizeOf(int id, int seq) {
    return 8 + (seq * 131 + id * 7) % 4085;
  }

  @Test
  void unlockedWritersOfAtMostPipeBufBytesNeverTear() throws Exception {
    int count = 50_000;
    Pipe pipe = Pipe.open(false);
    Connection reader = pipe.conn1();
    Connection writer = pipe.conn2();
    List<ChildProcess> producers = new ArrayList<>();
    for (int id = 0; id < 2; id++) {
      ChildProcess p = ChildProcess.of(ProcessStressTest::unlockedProducer, writer, id, count);
      p.start();
      producers.add(p);
    }
    writer.close();
    int[] next = new int[2];
    for (; ; ) {
      byte[] m;
      try {
        m = reader.recvBytes();
      } catch (EOFException e) {
        break;
      }
      ByteBuffer b = ByteBuffer.wrap(m);
      int id = b.getInt();
      int seq = b.getInt();
      assertTrue(id == 0 || id == 1, "torn: id " + id);
      assertEquals(next[id], seq, "one writer's messages arrive in its order");
      ConnectionContract.check(m, id, seq, smallSizeOf(id, seq));
      next[id]++;
    }
    reader.close();
    assertEquals(count, next[0]);
    assertEquals(count, next[1]);
    for (ChildProcess p : producers) {
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  /** Child: takes the lock, announces it, then sends one huge message (it will be killed). */
  static void sendHugeUnderLock(Connection out, ProcessLock lock, Connection ctl) throws Exception {
    lock.lock();
    ctl.send("sending");
    out.sendBytes(new byte[256 << 20]);
    ctl.send("done"); // never reached: the parent reads only a little
  }

  @Test
  void aSenderKilledMidMessageEndsTheReceiveAndItsLockIsRecovered() throws Exception {
    Pipe pipe = Pipe.open();
    try (ProcessLock lock = ProcessLock.create();
        Pipe ctl = Pipe.open()) {
      ChildProcess p =
          ChildProcess.of(ProcessStressTest::sendHugeUnderLock, pipe.conn2(), lock, ctl.conn2());
      p.start();
      pipe.conn2().close();
      ctl.conn2().close();
      assertEquals("sending", ctl.conn1().recv());
      assertTrue(pipe.conn1().poll(TestSupport.PATIENCE), "part of the message has arrived");
      p.kill();
      p.join();
      assertEquals(-9, p.exitCode().orElseThrow());
      assertThrows(TruncatedMessageException.class, pipe.conn1()::recvBytes);
      assertThrows(EOFException.class, pipe.conn1()::recvBytes);
      assertTrue(lock.tryLock(TestSupport.PATIENCE), "the dead holder's lock is free");
      assertTrue(lock.previousOwnerDied());
      lock.unlock();
    } finally {
      pipe.close();
    }
  }

  /** Child: announces itself, then waits to be killed before sending anything. */
  static void dieBeforeSending(Connection out, Connection ctl) throws Exception {
    ctl.send("ready");
    Thread.sleep(600_000);
    out.send("never");
  }

  @Test
  void aSenderKilledBeforeSendingGivesEndOfFile() throws Exception {
    Pipe pipe = Pipe.open(false);
    try (Pipe ctl = Pipe.open()) {
      ChildProcess p =
          ChildProcess.of(ProcessStressTest::dieBeforeSending, pipe.conn2(), ctl.conn2());
      p.start();
      pipe.conn2().close();
      assertEquals("ready", ctl.conn1().recv());
      p.kill();
      p.join();
      assertThrows(EOFException.class, pipe.conn1()::recv);
    } finally {
      pipe.close();
    }
  }
}
