package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Several writer processes and several reader processes on the two ends of one shared-memory pipe,
 * with no lock of their own: every message arrives whole and exactly once; and with writers and
 * readers killed (SIGKILL) at random instants, every message that arrives is intact and arrives
 * once, the only ones lost are those a killed reader had taken, and the survivors never hang.
 *
 * <p>The ring is small (8 KiB) so that some messages stream through it in chunks, and writers
 * mostly wait for room: kills land in the middle of writes, of chunked messages, of reads, while
 * holding the ring's locks, and while asleep.
 */
class ShmManyProcessTest {
  private static final long RING = 8 * 1024;

  /** Kills in the torture; {@code -Djpipe.shm.kills=1000} for a long run. */
  private static final int KILLS = Integer.getInteger("jpipe.shm.kills", 150);

  private static final long SEED = Long.getLong("jpipe.shm.seed", 20261202L);

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /**
   * The size of message {@code seq} of writer {@code id}: mostly small, some larger than the ring.
   */
  static int size(int id, int seq) {
    int h = (id * 0x9E3779B1 + seq * 0x85EBCA6B) >>> 1;
    int k = h % 100;
    if (k < 70) {
      return 8 + h % 200;
    }
    if (k < 95) {
      return 200 + h % 6000;
    }
    return 9000 + h % 30000;
  }

  static byte[] message(int id, int seq) {
    return ConnectionContract.message(id, seq, size(id, seq));
  }

  /** Child: sends {@code count} messages, then closes its end. */
  static void writer(Connection out, Integer id, Integer count) throws IOException {
    ShmChildren.send(out, id, count, ShmManyProcessTest::message);
  }

  /**
   * Child: receives until end of file, checks each message and reports it (writer, seq) on {@code
   * report}; a message that is not exactly what its writer sent is reported as text.
   */
  static void reader(Connection in, Connection report) throws IOException {
    ByteBuffer r = ByteBuffer.allocate(8);
    for (byte[] m = ShmChildren.next(in); m != null; m = ShmChildren.next(in)) {
      ByteBuffer b = ByteBuffer.wrap(m);
      if (m.length < 8) {
        report.sendBytes(("BAD: a message of " + m.length + " bytes").getBytes());
        continue;
      }
      int id = b.getInt();
      int seq = b.getInt();
      if (seq < 0 || !java.util.Arrays.equals(m, message(id, seq))) {
        report.sendBytes(("BAD: message " + id + "/" + seq + " is torn").getBytes());
        continue;
      }
      r.clear();
      report.sendBytes(r.putInt(id).putInt(seq).array());
    }
    report.close();
    in.close();
  }

  /** What the readers reported. */
  private static final class Tally {
    final Map<Long, Boolean> seen = new ConcurrentHashMap<>();
    final Map<Integer, Boolean> writersSeen = new ConcurrentHashMap<>();
    final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    final List<CompletableFuture<Void>> collectors = new ArrayList<>();

    /**
     * Collects one reader's reports on a virtual thread, until the reader ends or dies.
     *
     * @return how many messages it reported, so far
     */
    AtomicInteger collect(Connection reports) {
      AtomicInteger count = new AtomicInteger();
      CompletableFuture<Void> f = new CompletableFuture<>();
      collectors.add(f);
      Thread.ofVirtual()
          .start(
              () -> {
                try (reports) {
                  for (; ; ) {
                    byte[] m = reports.recvBytes();
                    if (m.length != 8) {
                      problems.add(new String(m));
                      continue;
                    }
                    ByteBuffer b = ByteBuffer.wrap(m);
                    long key = (long) b.getInt() << 32 | b.getInt();
                    if (seen.put(key, true) != null) {
                      problems.add("received twice: " + (key >> 32) + "/" + (int) key);
                    }
                    writersSeen.put((int) (key >> 32), true);
                    count.incrementAndGet();
                  }
                } catch (EOFException | TruncatedMessageException e) {
                  // the reader ended, or was killed (mid-report)
                } catch (Throwable t) {
                  problems.add("collector: " + t);
                } finally {
                  f.complete(null);
                }
              });
      return count;
    }

    void awaitCollectors() throws Exception {
      for (CompletableFuture<Void> f : collectors) {
        f.get(2, TimeUnit.MINUTES);
      }
    }
  }

  private static ChildProcess startReader(Pipe data, Tally tally, AtomicInteger[] progress)
      throws IOException {
    Pipe reports = Pipe.open(false);
    try {
      ChildProcess p =
          ShmChildren.startQuick(
              ChildProcess.of(ShmManyProcessTest::reader, data.conn1(), reports.conn2()));
      progress[0] = tally.collect(reports.conn1()); // the collector owns and closes it
      return p;
    } catch (IOException | RuntimeException e) {
      reports.conn1().close();
      throw e;
    } finally {
      reports.conn2().close();
    }
  }

  @Test
  @Timeout(300)
  void threeWritersAndThreeReadersDeliverEachMessageExactlyOnce() throws Exception {
    int writers = 3;
    int perWriter = 2000;
    Tally tally = new Tally();
    List<ChildProcess> procs = new ArrayList<>();
    Pipe data = Pipe.builder().duplex(false).sharedMemory(RING).open();
    try {
      for (int i = 0; i < 3; i++) {
        procs.add(startReader(data, tally, new AtomicInteger[1]));
      }
      for (int w = 0; w < writers; w++) {
        ChildProcess p = ChildProcess.of(ShmManyProcessTest::writer, data.conn2(), w, perWriter);
        p.start();
        procs.add(p);
      }
      data.close(); // the children hold the only copies now
      for (ChildProcess p : procs) {
        assertTrue(p.join(java.time.Duration.ofMinutes(3)), p + " ended");
        assertEquals(0, p.exitCode().orElseThrow(), p + " exit code");
      }
      tally.awaitCollectors();
    } finally {
      data.close();
    }
    assertEquals(List.of(), List.copyOf(tally.problems));
    for (int w = 0; w < writers; w++) {
      for (int s = 0; s < perWriter; s++) {
        assertTrue(tally.seen.containsKey((long) w << 32 | s), "lost " + w + "/" + s);
      }
    }
    assertEquals(writers * perWriter, tally.seen.size());
  }

  /** One place among the six children: a writer or a reader, killed and replaced in turn. */
  private static final class Role {
    final boolean writer;
    final Random random;
    volatile ChildProcess current;

    Role(boolean writer, long seed) {
      this.writer = writer;
      this.random = new Random(seed);
    }
  }

  /**
   * The kill torture; its time limit grows with {@link #KILLS} (a hang is a failure at any size),
   * so the annotation only backs up the limit set here.
   */
  @Test
  @Timeout(value = 3, unit = TimeUnit.HOURS)
  void writersAndReadersKilledAtRandomNeverTearDuplicateOrHang() {
    assertTimeoutPreemptively(Duration.ofSeconds(300 + 3L * KILLS), this::killTorture);
  }

  private void killTorture() throws Exception {
    Tally tally = new Tally();
    AtomicInteger kills = new AtomicInteger();
    AtomicInteger readerKills = new AtomicInteger();
    AtomicInteger nextWriterId = new AtomicInteger();
    List<Role> roles = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      roles.add(new Role(i < 3, SEED + i));
    }
    long t0 = System.nanoTime();
    Pipe data = Pipe.builder().duplex(false).sharedMemory(RING).open();
    try {
      List<Thread> drivers = new ArrayList<>();
      ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
      for (Role role : roles) {
        drivers.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        drive(role, data, tally, kills, readerKills, nextWriterId);
                      } catch (Throwable t) {
                        failures.add(t);
                      }
                    }));
      }
      for (Thread t : drivers) {
        t.join();
      }
      assertEquals(List.of(), List.copyOf(failures));
      // The last readers live on: with every writer gone and our copies closed, they drain the
      // ring and see end of file.
      data.close();
      for (Role role : roles) {
        if (!role.writer) {
          ChildProcess p = role.current;
          assertTrue(p.join(java.time.Duration.ofMinutes(2)), "a surviving reader hangs: " + p);
          assertEquals(0, p.exitCode().orElseThrow(), "a surviving reader failed");
        }
      }
      tally.awaitCollectors();
    } finally {
      data.close();
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    // Every message a writer had published before one that arrived must have arrived, except
    // those taken by readers that were killed before reporting them: at most one each.
    Map<Integer, Integer> last = new java.util.HashMap<>();
    for (long key : tally.seen.keySet()) {
      last.merge((int) (key >> 32), (int) key, Math::max);
    }
    int missing = 0;
    for (Map.Entry<Integer, Integer> e : last.entrySet()) {
      for (int s = 0; s < e.getValue(); s++) {
        if (!tally.seen.containsKey((long) e.getKey() << 32 | s)) {
          missing++;
        }
      }
    }
    long duplicated = tally.problems.stream().filter(p -> p.startsWith("received twice")).count();
    long torn = tally.problems.stream().filter(p -> p.startsWith("BAD")).count();
    System.out.printf(
        "kill torture: %d kills (%d readers) in %d ms, %d messages received from %d writers,"
            + " %d lost with killed readers, %d duplicated, %d torn%n",
        kills.get(),
        readerKills.get(),
        ms,
        tally.seen.size(),
        last.size(),
        missing,
        duplicated,
        torn);
    assertEquals(List.of(), List.copyOf(tally.problems));
    assertTrue(kills.get() >= KILLS, "kills: " + kills.get());
    assertTrue(tally.seen.size() > 0, "nothing was received");
    assertTrue(
        missing <= readerKills.get(),
        missing + " messages lost, but only " + readerKills.get() + " readers were killed");
  }

  /**
   * Runs one role: starts its child, lets it work for a random while, kills it, and again, until
   * the torture has its kills; a reader role leaves its last child running, a writer role kills its
   * last one too.
   */
  private static void drive(
      Role role,
      Pipe data,
      Tally tally,
      AtomicInteger kills,
      AtomicInteger readerKills,
      AtomicInteger nextWriterId)
      throws Exception {
    for (; ; ) {
      ChildProcess p;
      AtomicInteger[] progress = new AtomicInteger[1];
      int id = -1;
      if (role.writer) {
        id = nextWriterId.getAndIncrement();
        p =
            ShmChildren.startQuick(
                ChildProcess.of(ShmManyProcessTest::writer, data.conn2(), id, Integer.MAX_VALUE));
      } else {
        p = startReader(data, tally, progress);
      }
      role.current = p;
      boolean last = kills.get() >= KILLS;
      if (last && !role.writer) {
        return;
      }
      // Kill it while it works, not while its JVM boots: after its first message is seen.
      long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      int writerId = id;
      while (System.nanoTime() - until < 0
          && (role.writer ? !tally.writersSeen.containsKey(writerId) : progress[0].get() == 0)) {
        Thread.sleep(5);
      }
      Thread.sleep(role.random.nextInt(300));
      ShmChildren.kill(p, p + " was to be killed");
      int k = kills.incrementAndGet();
      if (k % 20 == 0) {
        System.out.printf("kill torture: %d kills%n", k);
      }
      if (!role.writer) {
        readerKills.incrementAndGet();
      }
      if (last) {
        return;
      }
    }
  }
}
