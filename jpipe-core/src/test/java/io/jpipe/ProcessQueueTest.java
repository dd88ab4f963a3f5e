package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * ProcessQueue and JoinableQueue: CPython's {@code _TestQueue} cases that apply, capacity slots
 * that survive a consumer killed with an item, and the stress test of issue 10 (4 producers, 4
 * consumers, 400,000 items through a queue of 64, one consumer SIGKILLed midway).
 */
class ProcessQueueTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  // ---------------------------------------------------------------- children

  /** CPython's {@code _test_put}: waits for the go, takes six items, then says so. */
  static void takeSix(ProcessQueue<Integer> queue, ProcessEvent go, ProcessEvent done)
      throws Exception {
    go.await();
    for (int i = 0; i < 6; i++) {
      queue.take();
    }
    done.set();
  }

  /** CPython's {@code _test_get}: waits for the go, then puts 2, 3, 4, 5 and says so. */
  static void putTwoToFive(ProcessQueue<Integer> queue, ProcessEvent go, ProcessEvent done)
      throws Exception {
    go.await();
    queue.put(2);
    queue.put(3);
    queue.put(4);
    queue.put(5);
    done.set();
  }

  /** CPython's {@code _test_fork}: puts 10..19, then ends at once. */
  static void putTenToNineteen(ProcessQueue<Integer> queue) throws Exception {
    for (int i = 10; i < 20; i++) {
      queue.put(i);
    }
  }

  /** CPython's {@code _test_task_done}: takes until the sentinel, saying each is done. */
  static void worker(JoinableQueue<Integer> queue) throws Exception {
    for (Integer item; (item = queue.take()) != -1; ) {
      Thread.sleep(item % 3); // some work
      queue.taskDone();
    }
    queue.taskDone(); // the sentinel too
  }

  /** Puts {@code base + 0 .. base + n - 1}. */
  static void produce(ProcessQueue<Integer> queue, Integer base, Integer n) throws Exception {
    for (int i = 0; i < n; i++) {
      queue.put(base + i);
    }
  }

  /** Takes items until -1, then sends back which ones it got. */
  static void consume(ProcessQueue<Integer> queue, Connection result) throws Exception {
    int[] got = new int[1024];
    int n = 0;
    for (int item; (item = queue.take()) != -1; ) {
      if (n == got.length) {
        got = java.util.Arrays.copyOf(got, n * 2);
      }
      got[n++] = item;
    }
    result.send(java.util.Arrays.copyOf(got, n));
    result.close();
  }

  /**
   * The consumer that is killed: takes {@code k} items, sends back all it took (the last is the one
   * it holds, in flight: taken, never worked on), then waits to be killed.
   */
  static void consumeThenHold(ProcessQueue<Integer> queue, Integer k, Connection result)
      throws Exception {
    int[] got = new int[k];
    for (int n = 0; n < k; n++) {
      got[n] = queue.take();
    }
    result.send(got);
    result.recv(); // never comes: SIGKILLed here, holding got[k - 1]
  }

  /** Takes one item and holds it until killed. */
  static void takeOneAndHold(ProcessQueue<Object> queue, Connection result) throws Exception {
    result.send(queue.take());
    result.recv();
  }

  // ---------------------------------------------------------------- CPython's cases

  // CPython: _TestQueue.test_put
  @Test
  void putWaitsWhileFullAndOfferSaysFull() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create(6);
        ProcessEvent go = ProcessEvent.create();
        ProcessEvent done = ProcessEvent.create()) {
      ChildProcess c = ChildProcess.of(ProcessQueueTest::takeSix, queue, go, done);
      c.start();
      assertTrue(queue.isEmpty());
      assertFalse(queue.isFull());
      queue.put(1);
      assertTrue(queue.offer(2));
      assertTrue(queue.offer(3, Duration.ofSeconds(1)));
      assertTrue(queue.offer(4, 0, TimeUnit.SECONDS));
      assertTrue(queue.offer(5, 1, TimeUnit.SECONDS));
      queue.put(6);
      assertFalse(queue.isEmpty());
      assertTrue(queue.isFull());
      assertEquals(6, queue.size());
      assertEquals(0, queue.remainingCapacity());
      assertFalse(queue.offer(7), "put(7, False) raises Full");
      long start = System.nanoTime();
      assertFalse(queue.offer(7, Duration.ofMillis(200)), "put(7, True, DELAY) raises Full");
      assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(200), "it waited");
      assertFalse(queue.offer(7, 0, TimeUnit.MILLISECONDS), "put_nowait(7) raises Full");
      go.set();
      assertTrue(done.await(TestSupport.PATIENCE));
      assertTrue(queue.isEmpty());
      assertFalse(queue.isFull());
      assertEquals(0, queue.size());
      assertEquals(6, queue.remainingCapacity(), "every slot came back");
      c.join();
      assertEquals(0, c.exitCode().orElseThrow());
    }
  }

  // CPython: _TestQueue.test_get
  @Test
  void pollSaysEmptyAndTakesWhatAChildPuts() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create();
        ProcessEvent go = ProcessEvent.create();
        ProcessEvent done = ProcessEvent.create()) {
      ChildProcess c = ChildProcess.of(ProcessQueueTest::putTwoToFive, queue, go, done);
      c.start();
      assertTrue(queue.isEmpty());
      assertEquals(0, queue.size());
      assertNull(queue.poll(), "get(False) raises Empty");
      long start = System.nanoTime();
      assertNull(queue.poll(Duration.ofMillis(200)), "get(True, DELAY) raises Empty");
      assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(200), "it waited");
      go.set();
      assertTrue(done.await(TestSupport.PATIENCE));
      assertFalse(queue.isEmpty());
      assertEquals(4, queue.size());
      assertEquals(2, queue.take());
      assertEquals(3, queue.poll(1, TimeUnit.SECONDS));
      assertEquals(4, queue.poll(Duration.ofSeconds(1)));
      assertEquals(5, queue.poll());
      assertTrue(queue.isEmpty());
      assertNull(queue.poll(10, TimeUnit.MILLISECONDS));
      c.join();
      assertEquals(0, c.exitCode().orElseThrow());
    }
  }

  // CPython: _TestQueue.test_fork (items put before the child starts, and after it ends)
  @Test
  void itemsPutBeforeAChildStartsAndByItBeforeItEndedAllArrive() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create()) {
      for (int i = 0; i < 10; i++) {
        queue.put(i);
      }
      ChildProcess c = ChildProcess.of(ProcessQueueTest::putTenToNineteen, queue);
      c.start();
      c.join(); // nothing to flush: the child's items were in the pipe when its puts returned
      assertEquals(0, c.exitCode().orElseThrow());
      for (int i = 0; i < 20; i++) {
        assertEquals(i, queue.take());
      }
      assertNull(queue.poll(Duration.ofMillis(50)), "get(True, 1) raises Empty");
    }
  }

  // CPython: _TestQueue.test_qsize
  @Test
  void sizeCountsWhatIsIn() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create()) {
      assertEquals(0, queue.size());
      queue.put(1);
      assertEquals(1, queue.size());
      queue.put(5);
      assertEquals(2, queue.size());
      queue.take();
      assertEquals(1, queue.size());
      queue.take();
      assertEquals(0, queue.size());
      assertEquals(Integer.MAX_VALUE, queue.remainingCapacity(), "unbounded");
      assertFalse(queue.isFull());
    }
  }

  // CPython: _TestQueue.test_task_done
  @Test
  void joinWaitsUntilEveryItemIsDoneWithInWorkers() throws Exception {
    try (JoinableQueue<Integer> queue = JoinableQueue.create()) {
      List<ChildProcess> workers = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        ChildProcess w = ChildProcess.of(ProcessQueueTest::worker, queue);
        workers.add(w);
        w.start();
      }
      for (int i = 0; i < 10; i++) {
        queue.put(i);
      }
      queue.join();
      assertEquals(0, queue.unfinishedTasks());
      assertTrue(queue.isEmpty());
      for (int i = 0; i < 4; i++) {
        queue.put(-1);
      }
      for (ChildProcess w : workers) {
        w.join();
        assertEquals(0, w.exitCode().orElseThrow());
      }
      assertTrue(queue.join(Duration.ZERO), "the sentinels were done with too");
    }
  }

  // CPython: Lib/test/test_queue.py test_queue_task_done (task_done() too often: ValueError)
  @Test
  void taskDoneMoreTimesThanItemsThrows() throws Exception {
    try (JoinableQueue<Integer> queue = JoinableQueue.create(2)) {
      assertThrows(IllegalStateException.class, queue::taskDone);
      queue.put(1);
      assertEquals(1, queue.unfinishedTasks());
      assertFalse(queue.join(Duration.ofMillis(50)), "not done yet");
      assertEquals(1, queue.take());
      assertFalse(queue.join(Duration.ofMillis(50)), "taken is not done");
      queue.taskDone();
      assertTrue(queue.join(Duration.ZERO));
      queue.join();
      assertThrows(IllegalStateException.class, queue::taskDone);
      assertFalse(queue.offer(2) && queue.offer(3) && queue.offer(4), "full at two");
      assertEquals(2, queue.unfinishedTasks(), "an offer that fails counts no task");
    }
  }

  // CPython: _TestQueue.test_timeout
  @Test
  void pollTimesOut() throws Exception {
    try (ProcessQueue<Object> queue = ProcessQueue.create()) {
      long start = System.nanoTime();
      assertNull(queue.poll(Duration.ofMillis(200)));
      long waited = System.nanoTime() - start;
      assertTrue(waited >= TimeUnit.MILLISECONDS.toNanos(200), "waited " + waited + " ns");
    }
  }

  // CPython: _TestQueue.test_closed_queue_put_get_exceptions
  @Test
  void aClosedQueueRefusesPutAndTake() throws Exception {
    int before = TestSupport.fdCount();
    for (ProcessQueue<Object> queue :
        List.<ProcessQueue<Object>>of(ProcessQueue.create(3), JoinableQueue.create(3))) {
      queue.close();
      queue.close();
      assertThrows(ClosedChannelException.class, () -> queue.put("foo"));
      assertThrows(ClosedChannelException.class, () -> queue.offer("foo"));
      assertThrows(ClosedChannelException.class, queue::take);
      assertThrows(ClosedChannelException.class, queue::poll);
      assertThrows(ClosedChannelException.class, queue::isEmpty);
      assertTrue(queue.toString().contains("closed"), queue.toString());
    }
    assertEquals(before, TestSupport.fdCount(), "pipes, locks and counts are all closed");
  }

  // CPython: _TestQueue.test_queue_feeder_donot_stop_onexc (here the caller's put fails instead)
  @Test
  void anItemThatCannotBeEncodedFailsInPutAndTakesNoSlot() throws Exception {
    try (JoinableQueue<Object> queue = JoinableQueue.create(1)) {
      assertThrows(NotSerializableException.class, () -> queue.put(new Object()));
      assertThrows(NotSerializableException.class, () -> queue.offer(new Object()));
      assertTrue(queue.isEmpty(), "nothing was sent");
      assertEquals(1, queue.remainingCapacity(), "no slot was taken");
      assertEquals(0, queue.unfinishedTasks(), "no task was counted");
      queue.put(true);
      assertEquals(true, queue.take());
    }
  }

  // ---------------------------------------------------------------- beyond CPython's cases

  /**
   * CPython's "joining processes that use queues" deadlock, the part that cannot happen here: a
   * producer whose puts returned has nothing left to flush, so the parent joins it before taking
   * anything (CPython's producer would wait at exit for its feeder thread, were the pipe full).
   */
  @Test
  void aProducerWhosePutsReturnedEndsBeforeAnythingIsTaken() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create(64)) {
      ChildProcess p = ChildProcess.of(ProcessQueueTest::produce, queue, 0, 64);
      p.start();
      assertTrue(p.join(TestSupport.PATIENCE), "the producer ended with its 64 items untaken");
      assertEquals(0, p.exitCode().orElseThrow());
      assertTrue(queue.isFull());
      for (int i = 0; i < 64; i++) {
        assertEquals(i, queue.take());
      }
      assertEquals(64, queue.remainingCapacity());
    }
  }

  @Test
  void nullItemsAreRefusedSincePollReturnsNullForNone() throws Exception {
    try (ProcessQueue<Object> queue = ProcessQueue.create(1)) {
      assertThrows(NullPointerException.class, () -> queue.put(null));
      assertThrows(NullPointerException.class, () -> queue.offer(null, Duration.ofSeconds(1)));
      assertEquals(1, queue.remainingCapacity());
      assertTrue(queue.isEmpty());
    }
  }

  @Test
  void aNegativeCapacityIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> ProcessQueue.create(-1));
    assertThrows(IllegalArgumentException.class, () -> JoinableQueue.create(-1));
  }

  @Test
  void itGoesOnlyToChildProcesses() throws Exception {
    try (ProcessQueue<Object> queue = ProcessQueue.create(2);
        ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream())) {
      assertThrows(NotSerializableException.class, () -> out.writeObject(queue));
    }
  }

  @Test
  void aPutWaitingForASlotIsWokenByATake() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create(1)) {
      queue.put(1);
      var blocked =
          TestSupport.async(
              Thread.ofVirtual(),
              () -> {
                queue.put(2);
                return "put";
              },
              new Thread[1]);
      Thread.sleep(100);
      assertFalse(blocked.isDone(), "full: the put waits");
      assertEquals(1, queue.take());
      assertEquals("put", blocked.get(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
      assertEquals(2, queue.take());
    }
  }

  @Test
  void offerAndPollDoNotWaitBehindABlockedPutOrTake() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create(1)) {
      var taker = TestSupport.async(queue::take); // holds the read lock, waiting for an item
      ProcessLock readLock = queue.queue.readLock();
      TestSupport.eventually("the taker holds the read lock", () -> !tryAndRelease(readLock));
      assertNull(queue.poll(), "empty: poll does not wait for the taker's lock");
      queue.put(1);
      assertEquals(1, taker.get(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
      queue.put(2);
      var putter =
          TestSupport.async(
              () -> {
                queue.put(3); // holds the write lock, waiting for a slot
                return "put";
              });
      ProcessLock writeLock = queue.queue.writeLock();
      TestSupport.eventually("the putter holds the write lock", () -> !tryAndRelease(writeLock));
      assertFalse(queue.offer(4), "full: offer does not wait for the putter's lock");
      assertEquals(2, queue.take());
      assertEquals("put", putter.get(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
      assertEquals(3, queue.poll());
    }
  }

  @Test
  void offerAndPollWaitForALockHeldInTheMiddleOfAnItem() throws Exception {
    try (ProcessQueue<Integer> queue = ProcessQueue.create(2)) {
      queue.put(1);
      ProcessLock writeLock = queue.queue.writeLock();
      ProcessLock readLock = queue.queue.readLock();
      var holder =
          TestSupport.async(
              () -> { // as a producer and a consumer in mid-item
                writeLock.lock();
                readLock.lock();
                try {
                  Thread.sleep(300);
                } finally {
                  readLock.unlock();
                  writeLock.unlock();
                }
                return "done";
              });
      TestSupport.eventually("the locks are held", () -> !tryAndRelease(readLock));
      assertTrue(queue.offer(2), "a slot is free: offer waits for the lock, not false");
      assertEquals(1, queue.poll(), "an item is there: poll waits for the lock, not null");
      assertEquals("done", holder.get(TestSupport.PATIENCE.toSeconds(), TimeUnit.SECONDS));
      assertEquals(2, queue.poll());
    }
  }

  @Test
  void closingWakesAPutWaitingForASlot() throws Exception {
    ProcessQueue<Integer> queue = ProcessQueue.create(1);
    queue.put(1);
    var blocked =
        TestSupport.async(
            () -> {
              queue.put(2);
              return "put";
            });
    Thread.sleep(100);
    queue.close();
    Throwable woken = TestSupport.failureOf(blocked);
    assertTrue(woken instanceof ClosedChannelException, String.valueOf(woken));
  }

  @Test
  void aConsumerKilledHoldingAnItemLosesItButNotItsSlot() throws Exception {
    try (JoinableQueue<Object> queue = JoinableQueue.create(2);
        Pipe result = Pipe.open()) {
      queue.put("held");
      queue.put("next");
      ChildProcess c = ChildProcess.of(ProcessQueueTest::takeOneAndHold, queue, result.conn2());
      c.start();
      assertEquals("held", result.conn1().recv(), "the consumer took it");
      c.kill();
      c.join();
      assertEquals(1, queue.remainingCapacity(), "its slot came back when it took the item");
      assertEquals(1, queue.size());
      assertEquals("next", queue.take(), "the queue goes on");
      queue.taskDone();
      assertTrue(queue.offer("a") && queue.offer("b"), "both slots are free");
      assertEquals(3, queue.unfinishedTasks(), "the lost item is never done with");
      assertFalse(queue.join(Duration.ofMillis(50)), "so join needs a timeout");
    }
  }

  @Test
  void aConsumerKilledInTheMiddleOfAnItemBreaksTheQueue() throws Exception {
    try (ProcessQueue<Object> queue = ProcessQueue.create(4);
        Pipe result = Pipe.open()) {
      ChildProcess c = ChildProcess.of(ProcessQueueTest::takeOneAndHold, queue, result.conn2());
      c.start();
      ProcessLock readLock = queue.queue.readLock();
      TestSupport.eventually("the consumer holds the read lock", () -> !tryAndRelease(readLock));
      int fd = queue.queue.writer().fileno();
      TestSupport.rawWrite(fd, TestSupport.concat(TestSupport.header(100), new byte[10]));
      TestSupport.eventually("the consumer read the half message", () -> isEmpty(queue));
      c.kill();
      c.join();
      BrokenQueueException e = assertThrows(BrokenQueueException.class, queue::poll);
      assertTrue(e.getMessage().contains("consumer died"), e.getMessage());
      assertThrows(BrokenQueueException.class, () -> queue.offer("x"));
      assertFalse(result.conn1().poll(), "the killed consumer got nothing");
    }
  }

  /** Holds the write lock for the test: a producer that died there with a slot and sent nothing. */
  static void claimAndDie(ProcessQueue<Object> queue, Connection ready) throws Exception {
    ProcessLock writeLock = queue.queue.writeLock();
    writeLock.lock();
    queue.free.acquire(); // what a put does before it sends
    queue.queue.markClaimedForTest();
    ready.send("claimed");
    ready.recv(); // killed here
  }

  @Test
  void aProducerKilledHoldingASlotItNeverFilledGivesItBack() throws Exception {
    try (ProcessQueue<Object> queue = ProcessQueue.create(1);
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(ProcessQueueTest::claimAndDie, queue, ctl.conn2());
      p.start();
      assertEquals("claimed", ctl.conn1().recv());
      assertEquals(0, queue.remainingCapacity());
      p.kill();
      p.join();
      assertTrue(queue.offer("x", Duration.ofSeconds(5)), "the next producer frees the slot");
      assertEquals("x", queue.take());
      assertEquals(1, queue.remainingCapacity());
    }
  }

  /**
   * Issue 10's stress test: 4 producers and 4 consumers in child JVMs, 400,000 items through one
   * queue of capacity 64, exactly once; one consumer is SIGKILLed midway, holding an item it took.
   * Every item is either taken by a survivor or reported by the killed one (its last one being in
   * flight, lost), none twice, and every slot comes back.
   */
  @Test
  void fourProducersFourConsumersOneKilledMidway() throws Exception {
    int producers = 4;
    int perProducer = 100_000;
    int total = producers * perProducer;
    int survivors = 3;
    int victimTakes = 20_000;
    long start = System.nanoTime();
    try (ProcessQueue<Integer> queue = ProcessQueue.create(64)) {
      List<Pipe> results = new ArrayList<>();
      List<ChildProcess> cs = new ArrayList<>();
      for (int i = 0; i < survivors; i++) {
        Pipe r = Pipe.open();
        results.add(r);
        cs.add(ChildProcess.of(ProcessQueueTest::consume, queue, r.conn2()).name("c" + i));
      }
      Pipe victimResult = Pipe.open();
      ChildProcess victim =
          ChildProcess.of(
                  ProcessQueueTest::consumeThenHold, queue, victimTakes, victimResult.conn2())
              .name("victim");
      List<ChildProcess> ps = new ArrayList<>();
      for (int i = 0; i < producers; i++) {
        ps.add(ChildProcess.of(ProcessQueueTest::produce, queue, i * perProducer, perProducer));
      }
      for (ChildProcess c : cs) {
        c.start();
      }
      victim.start();
      for (ChildProcess p : ps) {
        p.start();
      }
      int[] victims = victimResult.conn1().recv(int[].class);
      victim.kill(); // SIGKILL, holding victims[victimTakes - 1]
      victim.join();
      assertEquals(-9, victim.exitCode().orElseThrow());
      boolean producersStillRunning = ps.stream().anyMatch(ChildProcess::isAlive);
      for (ChildProcess p : ps) {
        p.join();
        assertEquals(0, p.exitCode().orElseThrow());
      }
      for (int i = 0; i < survivors; i++) {
        queue.put(-1);
      }
      BitSet seen = new BitSet(total);
      int taken = 0;
      for (int i = 0; i < survivors; i++) {
        int[] got = results.get(i).conn1().recv(int[].class);
        for (int item : got) {
          assertFalse(seen.get(item), "taken twice: " + item);
          seen.set(item);
        }
        taken += got.length;
        cs.get(i).join();
        assertEquals(0, cs.get(i).exitCode().orElseThrow());
        results.get(i).close();
      }
      int lost = victims[victimTakes - 1];
      for (int item : victims) {
        assertFalse(seen.get(item), "taken by the killed consumer and again: " + item);
        seen.set(item);
      }
      victimResult.close();
      assertEquals(total, taken + victimTakes, "every item taken once");
      assertEquals(total, seen.cardinality(), "none missing");
      assertEquals(0, queue.size());
      assertTrue(queue.isEmpty());
      assertEquals(64, queue.remainingCapacity(), "no slot leaked with the killed consumer");
      System.out.printf(
          "stress: %,d items, 4 producers, 4 consumers, capacity 64; killed consumer held item %d"
              + " (lost, reported) after %,d items%s; %.1f s%n",
          total,
          lost,
          victimTakes,
          producersStillRunning ? " while producers ran" : "",
          (System.nanoTime() - start) / 1e9);
    }
  }

  /**
   * Virtual threads park, never pin: takers and putters of a queue of capacity 2 on a scheduler
   * with ONE carrier, in a JVM of their own. A putter that pinned the carrier while it waited for a
   * slot (or a taker, for an item) would starve the others, and the run would never end.
   */
  @Test
  void virtualThreadsParkOnOneCarrier() throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                javaBin,
                "--enable-native-access=ALL-UNNAMED",
                "-Djdk.virtualThreadScheduler.parallelism=1",
                "-Djdk.virtualThreadScheduler.maxPoolSize=1",
                "-cp",
                System.getProperty("java.class.path"),
                OneCarrier.class.getName(),
                "100")
            .redirectErrorStream(true)
            .start();
    String out;
    try {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the JVM ended");
    } finally {
      p.destroyForcibly();
    }
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("OK taken=100"), out);
  }

  /** The program {@link #virtualThreadsParkOnOneCarrier} runs. */
  static final class OneCarrier {
    private OneCarrier() {}

    public static void main(String[] args) throws Exception {
      Thread watchdog =
          Thread.ofPlatform()
              .daemon()
              .start(
                  () -> {
                    try {
                      Thread.sleep(90_000);
                      System.out.println("STALLED; threads:");
                      Thread.getAllStackTraces()
                          .forEach((t, st) -> System.out.println(t + " " + List.of(st)));
                      System.out.flush();
                      Runtime.getRuntime().halt(3);
                    } catch (InterruptedException e) {
                      // finished in time
                    }
                  });
      int n = Integer.parseInt(args[0]);
      try (JoinableQueue<Integer> queue = JoinableQueue.create(2)) {
        List<Thread> putters = new ArrayList<>();
        for (int i = 0; i < n; i++) { // all but two wait for a slot, parked
          int item = i;
          putters.add(
              Thread.ofVirtual()
                  .start(
                      () ->
                          call(
                              () -> {
                                queue.put(item);
                                return null;
                              })));
        }
        Thread joiner =
            Thread.ofVirtual()
                .start(
                    () ->
                        call(
                            () -> {
                              queue.join(); // parks on the condition
                              return null;
                            }));
        java.util.concurrent.ConcurrentLinkedQueue<Integer> got =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
        List<Thread> takers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          takers.add(
              Thread.ofVirtual()
                  .start(
                      () ->
                          call(
                              () -> {
                                got.add(queue.take());
                                queue.taskDone();
                                return null;
                              })));
        }
        for (Thread t : putters) {
          t.join();
        }
        for (Thread t : takers) {
          t.join();
        }
        joiner.join();
        BitSet seen = new BitSet();
        for (int i : got) {
          if (seen.get(i)) {
            throw new AssertionError("item " + i + " taken twice");
          }
          seen.set(i);
        }
        System.out.println("OK taken=" + seen.cardinality());
      }
      watchdog.interrupt();
    }

    private static <T> T call(java.util.concurrent.Callable<T> c) {
      try {
        return c.call();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static boolean tryAndRelease(ProcessLock lock) {
    if (lock.tryLock()) {
      lock.unlock();
      return true;
    }
    return false;
  }

  private static boolean isEmpty(ProcessQueue<?> queue) {
    try {
      return queue.isEmpty();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
