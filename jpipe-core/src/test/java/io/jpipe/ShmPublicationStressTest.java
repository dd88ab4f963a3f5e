package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.shm.ShmEnd;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A concurrency stress of the ring's publication order, in the style of jcstress but at the scale
 * of whole messages: many writers and many readers on one small ring (4 KiB, so every record wraps
 * around within a few messages and a fifth of the messages stream as {@code FIRST}/{@code CHUNK}
 * records), each thread on an attachment of its own (so they contend on the ring's cross-process
 * locks exactly as processes do), plus a writer process and a reader process mapping the same
 * segment, plus writer processes SIGKILLed in the middle of streaming messages (whose write lock
 * the others take over).
 *
 * <p>Every message carries its writer, its sequence number, its length, seeded bytes and a CRC32 of
 * all that. Checked: every message that arrives is whole and exactly what its writer sent (never a
 * torn header or payload); each reader sees each writer's messages in increasing order; no message
 * arrives twice; every message of a writer that ended normally arrives; a killed writer's messages
 * that arrive are a prefix of what it sent (the half-streamed one at the kill is dropped whole).
 */
class ShmPublicationStressTest {
  private static final long RING = 4096;

  /** Messages each in-process writer sends at least; {@code -Djpipe.shm.stress=N} to scale. */
  private static final int PER_WRITER = Integer.getInteger("jpipe.shm.stress", 10000);

  private static final int THREAD_WRITERS = 4;
  private static final int THREAD_READERS = 3;
  private static final int CHILD_WRITER_ID = 100;
  private static final int FIRST_VICTIM_ID = 200;
  private static final int VICTIMS = 2;

  private static final long SEED = Long.getLong("jpipe.shm.seed", 20261202L);

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /**
   * The size of message {@code seq} of writer {@code id}: mostly small, some near the ring's size,
   * a fifth streamed in chunks; a victim's are all streamed, so that it dies in the middle of one.
   */
  static int size(int id, int seq) {
    Random r = new Random(SEED ^ ((long) id << 32 | seq));
    if (id >= FIRST_VICTIM_ID) {
      return 4100 + r.nextInt(12_000);
    }
    int k = r.nextInt(100);
    if (k < 65) {
      return 16 + r.nextInt(300);
    }
    if (k < 80) {
      return 300 + r.nextInt(3780); // a whole record of up to 4088 bytes: the ring's size
    }
    return 4089 + r.nextInt(12_000); // streamed: FIRST, then CHUNK records
  }

  /** Message {@code seq} of writer {@code id}: id, seq, length, seeded bytes, CRC32 of the rest. */
  static byte[] message(int id, int seq) {
    int n = size(id, seq);
    byte[] m = new byte[n];
    ByteBuffer b = ByteBuffer.wrap(m);
    b.putInt(id).putInt(seq).putInt(n);
    Random r = new Random(SEED * 31 + ((long) id << 32 | seq));
    for (int i = 12; i < n - 4; i++) {
      m[i] = (byte) r.nextInt();
    }
    CRC32 crc = new CRC32();
    crc.update(m, 0, n - 4);
    b.putInt(n - 4, (int) crc.getValue());
    return m;
  }

  /**
   * Checks a received message.
   *
   * @return its key (writer in the high half, seq in the low), or a description of what is wrong
   */
  static Object check(byte[] m) {
    if (m.length < 16) {
      return "a message of " + m.length + " bytes";
    }
    ByteBuffer b = ByteBuffer.wrap(m);
    int id = b.getInt();
    int seq = b.getInt();
    int n = b.getInt();
    CRC32 crc = new CRC32();
    crc.update(m, 0, m.length - 4);
    if (n != m.length || (int) crc.getValue() != b.getInt(m.length - 4)) {
      return "torn: header " + id + "/" + seq + "/" + n + " in " + m.length + " bytes";
    }
    if (id < 0 || seq < 0 || !java.util.Arrays.equals(m, message(id, seq))) {
      return "not what was sent: " + id + "/" + seq;
    }
    return (long) id << 32 | seq;
  }

  /** Child: sends {@code count} messages as writer {@code id}, then closes its end. */
  static void writer(Connection out, Integer id, Integer count) throws IOException {
    ShmChildren.send(out, id, count, ShmPublicationStressTest::message);
  }

  /**
   * Child: receives until end of file, checks each message and its order among its writer's, and
   * reports its key on {@code report} (or what is wrong, as text).
   */
  static void reader(Connection in, Connection report) throws IOException {
    Map<Integer, Integer> last = new HashMap<>();
    for (byte[] m = ShmChildren.next(in); m != null; m = ShmChildren.next(in)) {
      Object c = check(m);
      if (c instanceof String s) {
        report.sendBytes(("BAD: " + s).getBytes());
        continue;
      }
      long key = (Long) c;
      Integer before = last.put((int) (key >> 32), (int) key);
      if (before != null && before >= (int) key) {
        report.sendBytes(
            ("BAD: out of order: " + (key >> 32) + "/" + before + " then " + (int) key).getBytes());
      }
      report.sendBytes(ByteBuffer.allocate(8).putLong(key).array());
    }
    report.close();
    in.close();
  }

  /** A new attachment of this process to the segment of {@code c}'s end, with a socket copy. */
  private static Connection attachAgain(Connection c, boolean readable, boolean writable)
      throws IOException {
    ShmEnd e = Access.connections().shm(c);
    int sock = Fds.dupCloexec(e.channel().fd());
    int memfd;
    try {
      memfd = Fds.dupCloexec(e.memfd().fd());
    } catch (IOException | RuntimeException x) {
      Fds.closeQuietly(sock);
      throw x;
    }
    ShmEnd again = ShmEnd.attach(sock, memfd, e.side(), readable, writable);
    return new Connection(again, readable, writable, Codec.javaSerialization());
  }

  /** What the readers saw. */
  private static final class Tally {
    final Map<Long, Boolean> seen = new ConcurrentHashMap<>();
    final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    final AtomicInteger streamed = new AtomicInteger();
    final Map<Integer, AtomicInteger> perWriter = new ConcurrentHashMap<>();

    void saw(long key, int length) {
      if (seen.put(key, true) != null) {
        problems.add("received twice: " + (key >> 32) + "/" + (int) key);
      }
      if (length > RING - 8) {
        streamed.incrementAndGet();
      }
      perWriter.computeIfAbsent((int) (key >> 32), k -> new AtomicInteger()).incrementAndGet();
    }

    int of(int id) {
      AtomicInteger n = perWriter.get(id);
      return n == null ? 0 : n.get();
    }
  }

  @Test
  @Timeout(240)
  void everyMessageArrivesWholeInOrderExactlyOnceWhileWritersDie() throws Exception {
    Tally tally = new Tally();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    AtomicBoolean victimsDone = new AtomicBoolean();
    int[] sent = new int[THREAD_WRITERS];
    int[] received = new int[THREAD_READERS];
    List<Thread> threads = new ArrayList<>();
    List<ChildProcess> children = new ArrayList<>();
    long t0 = System.nanoTime();
    Pipe data = Pipe.builder().duplex(false).sharedMemory(RING).open();
    Pipe reports = Pipe.open(false);
    try {
      // A reader process, reporting what it receives over a kernel pipe.
      ChildProcess childReader =
          ShmChildren.startQuick(
              ChildProcess.of(ShmPublicationStressTest::reader, data.conn1(), reports.conn2()));
      children.add(childReader);
      reports.conn2().close();
      AtomicInteger childReceived = new AtomicInteger();
      Thread collector =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      for (; ; ) {
                        byte[] m = reports.conn1().recvBytes();
                        if (m.length != 8) {
                          tally.problems.add("child reader: " + new String(m));
                          continue;
                        }
                        long key = ByteBuffer.wrap(m).getLong();
                        tally.saw(key, size((int) (key >> 32), (int) key));
                        childReceived.incrementAndGet();
                      }
                    } catch (EOFException e) {
                      // the child reader ended
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  });
      // Readers on threads, each on an attachment of its own.
      for (int i = 0; i < THREAD_READERS; i++) {
        Connection in = attachAgain(data.conn1(), true, false);
        int me = i;
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      Map<Integer, Integer> last = new HashMap<>();
                      try (in) {
                        for (byte[] m = ShmChildren.next(in); m != null; m = ShmChildren.next(in)) {
                          Object c = check(m);
                          if (c instanceof String s) {
                            tally.problems.add("reader " + me + ": " + s);
                            continue;
                          }
                          long key = (Long) c;
                          Integer before = last.put((int) (key >> 32), (int) key);
                          if (before != null && before >= (int) key) {
                            tally.problems.add(
                                "reader "
                                    + me
                                    + ": out of order: "
                                    + (key >> 32)
                                    + "/"
                                    + before
                                    + " then "
                                    + (int) key);
                          }
                          tally.saw(key, m.length);
                          received[me]++;
                        }
                      } catch (Throwable t) {
                        failures.add(t);
                      }
                    }));
      }
      data.conn1().close(); // the reader threads and the child hold the receiving end now
      // A writer process.
      ChildProcess childWriter =
          ShmChildren.startQuick(
              ChildProcess.of(
                  ShmPublicationStressTest::writer, data.conn2(), CHILD_WRITER_ID, PER_WRITER));
      children.add(childWriter);
      // Writers on threads, each on an attachment of its own; they go on until the victims died.
      CountDownLatch writersStarted = new CountDownLatch(THREAD_WRITERS);
      List<Thread> writers = new ArrayList<>();
      for (int w = 0; w < THREAD_WRITERS; w++) {
        Connection out = attachAgain(data.conn2(), false, true);
        int id = w;
        writers.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      writersStarted.countDown();
                      int seq = 0;
                      try (out) {
                        while (seq < PER_WRITER || !victimsDone.get()) {
                          out.sendBytes(message(id, seq));
                          seq++;
                        }
                      } catch (Throwable t) {
                        failures.add(t);
                      } finally {
                        sent[id] = seq;
                      }
                    }));
      }
      writersStarted.await();
      // Victims: writer processes that stream large messages, killed while streaming.
      Random random = new Random(SEED);
      for (int v = 0; v < VICTIMS; v++) {
        int id = FIRST_VICTIM_ID + v;
        ChildProcess victim =
            ShmChildren.startQuick(
                ChildProcess.of(
                    ShmPublicationStressTest::writer, data.conn2(), id, Integer.MAX_VALUE));
        long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (tally.of(id) < 20 && System.nanoTime() - until < 0) {
          Thread.sleep(2);
        }
        Thread.sleep(random.nextInt(50));
        ShmChildren.kill(victim, "victim " + id + " was to be killed");
      }
      victimsDone.set(true);
      for (Thread t : writers) {
        t.join();
      }
      assertTrue(childWriter.join(Duration.ofMinutes(2)), "the writer process ends");
      assertEquals(0, childWriter.exitCode().orElseThrow(), "the writer process");
      data.conn2().close(); // the last copy of the sending end: the readers get end of file
      for (Thread t : threads) {
        t.join();
      }
      assertTrue(childReader.join(Duration.ofMinutes(2)), "the reader process ends");
      assertEquals(0, childReader.exitCode().orElseThrow(), "the reader process");
      collector.join();
      long ms = (System.nanoTime() - t0) / 1_000_000;
      System.out.printf(
          "publication stress: %d messages (%d streamed) in %d ms; sent by threads %s, process %d,"
              + " victims %d and %d; received by threads %s, process %d%n",
          tally.seen.size(),
          tally.streamed.get(),
          ms,
          java.util.Arrays.toString(sent),
          PER_WRITER,
          tally.of(FIRST_VICTIM_ID),
          tally.of(FIRST_VICTIM_ID + 1),
          java.util.Arrays.toString(received),
          childReceived.get());
    } finally {
      data.close();
      reports.close();
      for (ChildProcess p : children) {
        if (p.isAlive()) {
          p.kill();
          p.join();
        }
      }
    }
    assertEquals(List.of(), List.copyOf(failures));
    assertEquals(List.of(), List.copyOf(tally.problems));
    long expected = 0;
    for (int w = 0; w < THREAD_WRITERS; w++) {
      assertTrue(sent[w] >= PER_WRITER, "writer " + w + " sent " + sent[w]);
      assertArrived(tally, w, sent[w]);
      expected += sent[w];
    }
    assertArrived(tally, CHILD_WRITER_ID, PER_WRITER);
    expected += PER_WRITER;
    for (int v = 0; v < VICTIMS; v++) {
      int id = FIRST_VICTIM_ID + v;
      int n = tally.of(id);
      assertTrue(n >= 20, "victim " + id + " was seen: " + n);
      assertArrived(tally, id, n); // a prefix: nothing after a gap
      expected += n;
    }
    assertEquals(expected, tally.seen.size(), "messages from unknown writers");
    assertTrue(tally.streamed.get() > 0, "no message was streamed in chunks");
  }

  /** Asserts that messages 0..count-1 of writer {@code id} arrived. */
  private static void assertArrived(Tally tally, int id, int count) {
    for (int s = 0; s < count; s++) {
      if (!tally.seen.containsKey((long) id << 32 | s)) {
        throw new AssertionError("writer " + id + ": message " + s + " of " + count + " lost");
      }
    }
  }
}
