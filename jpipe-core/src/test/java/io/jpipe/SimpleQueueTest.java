package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * SimpleQueue: CPython's {@code _TestSimpleQueue} and the {@code _TestQueue} cases that apply to a
 * queue without capacity or timeouts, then exactly once across processes, and what a process that
 * dies in the middle of an item does to the others.
 */
class SimpleQueueTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  // ---------------------------------------------------------------- children

  /** CPython's {@code _test_empty}: waits for the go, then puts what {@code empty()} says twice. */
  static void putEmptiness(SimpleQueue<Boolean> queue, Connection ctl) throws Exception {
    ctl.recv();
    queue.put(queue.isEmpty());
    queue.put(queue.isEmpty());
    ctl.send("done");
  }

  /** Takes items until null, then sends back which ones it got, in the order it got them. */
  static void consume(SimpleQueue<Integer> queue, Connection result) throws Exception {
    List<Integer> got = new ArrayList<>();
    for (Integer item; (item = queue.take()) != null; ) {
      got.add(item);
    }
    result.send(got.stream().mapToInt(Integer::intValue).toArray());
    result.close();
  }

  /** Puts {@code base + 0 .. base + n - 1}. */
  static void produce(SimpleQueue<Integer> queue, Integer base, Integer n) throws Exception {
    for (int i = 0; i < n; i++) {
      queue.put(base + i);
    }
  }

  /** Puts {@code n} large byte arrays, each made from its index. */
  static void produceLarge(SimpleQueue<byte[]> queue, Integer base, Integer n, Integer size)
      throws Exception {
    for (int i = 0; i < n; i++) {
      queue.put(large(base + i, size));
    }
  }

  /** Item {@code i} of {@code size} bytes: its index in the first four, then its payload. */
  static byte[] large(int i, int size) {
    byte[] b = TestSupport.payload(i, size);
    System.arraycopy(TestSupport.header(i), 0, b, 0, 4);
    return b;
  }

  /** Blocks in take() until killed (or until it gets an item, which it sends back). */
  static void takeOne(SimpleQueue<Object> queue, Connection result) throws Exception {
    result.send(queue.take());
  }

  /** Puts one item and sends back that it returned (or is killed while putting). */
  static void putOne(SimpleQueue<Object> queue, Object item, Connection result) throws Exception {
    queue.put(item);
    result.send("put");
  }

  // ---------------------------------------------------------------- CPython's cases

  // CPython: _TestSimpleQueue.test_empty
  @Test
  void emptyIsSeenTheSameByAChild() throws Exception {
    try (SimpleQueue<Boolean> queue = SimpleQueue.create();
        Pipe ctl = Pipe.open()) {
      ChildProcess p = ChildProcess.of(SimpleQueueTest::putEmptiness, queue, ctl.conn2());
      p.start();
      assertTrue(queue.isEmpty());
      ctl.conn1().send("go");
      assertEquals("done", ctl.conn1().recv());
      assertFalse(queue.isEmpty());
      assertEquals(true, queue.take());
      assertEquals(false, queue.take());
      assertTrue(queue.isEmpty());
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  // CPython: _TestSimpleQueue.test_close
  @Test
  void closingTwiceDoesNotFail() throws Exception {
    SimpleQueue<Object> queue = SimpleQueue.create();
    queue.close();
    queue.close();
  }

  // CPython: _TestSimpleQueue.test_closed and _TestQueue.test_closed_queue_put_get_exceptions
  @Test
  void aClosedQueueRefusesPutTakeAndEmpty() throws Exception {
    int before = TestSupport.fdCount();
    SimpleQueue<Object> queue = SimpleQueue.create();
    queue.close();
    assertEquals(before, TestSupport.fdCount(), "the pipe and both locks are closed");
    assertThrows(ClosedChannelException.class, () -> queue.put("x"));
    assertThrows(ClosedChannelException.class, queue::take);
    assertThrows(ClosedChannelException.class, queue::isEmpty);
    assertTrue(queue.toString().contains("closed"), queue.toString());
  }

  // CPython: _TestQueue.test_put and test_get (the cases without capacity or timeouts)
  @Test
  void itemsComeOutInTheOrderTheyWentIn() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create()) {
      assertTrue(queue.isEmpty());
      for (int i = 1; i <= 5; i++) {
        queue.put(i);
      }
      queue.put(null);
      queue.put(List.of("a", 2.5));
      assertFalse(queue.isEmpty());
      for (int i = 1; i <= 5; i++) {
        assertEquals(i, queue.take());
      }
      assertNull(queue.take(), "null is an item, as None is in CPython");
      assertEquals(List.of("a", 2.5), queue.take());
      assertTrue(queue.isEmpty());
    }
  }

  // CPython: _TestQueue.test_fork (items put before the child starts reach it)
  @Test
  void itemsPutBeforeAChildStartsAreTakenByIt() throws Exception {
    try (SimpleQueue<Integer> queue = SimpleQueue.create();
        Pipe result = Pipe.open()) {
      for (int i = 0; i < 10; i++) {
        queue.put(i);
      }
      queue.put(null);
      ChildProcess c = ChildProcess.of(SimpleQueueTest::consume, queue, result.conn2());
      c.start();
      assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, result.conn1().recv(int[].class));
      c.join();
      assertEquals(0, c.exitCode().orElseThrow());
      assertTrue(queue.isEmpty());
    }
  }

  @Test
  void aWarmChildGetsTheSameQueue() throws Exception {
    try (SimpleQueue<Integer> queue = SimpleQueue.create();
        Pipe result = Pipe.open()) {
      ChildProcess c =
          ChildProcess.of(SimpleQueueTest::consume, queue, result.conn2())
              .startMethod(ChildProcess.StartMethod.WARM);
      c.start();
      ChildProcess p =
          ChildProcess.of(SimpleQueueTest::produce, queue, 0, 5)
              .startMethod(ChildProcess.StartMethod.WARM);
      p.start();
      p.join();
      queue.put(null);
      assertArrayEquals(new int[] {0, 1, 2, 3, 4}, result.conn1().recv(int[].class));
      c.join();
      assertEquals(0, c.exitCode().orElseThrow());
      assertEquals(0, p.exitCode().orElseThrow());
    } finally {
      io.jpipe.internal.spawn.Launcher.warm().closePool(); // before the check that no child is left
    }
  }

  // CPython: _TestQueue.test_queue_feeder_donot_stop_onexc (here the caller's put fails instead)
  @Test
  void anItemThatCannotBeEncodedFailsInPutAndTheQueueGoesOn() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create()) {
      assertThrows(NotSerializableException.class, () -> queue.put(new Object()));
      assertTrue(queue.isEmpty(), "nothing was sent");
      queue.put(true);
      assertEquals(true, queue.take());
    }
  }

  // ---------------------------------------------------------------- beyond CPython's cases

  @Test
  void endOfFileOnceEverySendingEndIsClosed() throws Exception {
    try (SimpleQueue<Integer> queue = SimpleQueue.create()) {
      ChildProcess c = ChildProcess.of(SimpleQueueTest::produce, queue, 0, 3);
      c.start();
      c.join();
      queue.writer().close(); // the child's copy went when it ended
      assertEquals(0, queue.take());
      assertEquals(1, queue.take());
      assertEquals(2, queue.take());
      assertThrows(EOFException.class, queue::take);
      assertThrows(ClosedChannelException.class, () -> queue.put(null));
    }
  }

  /** Waits for the go, then puts one item and takes one, and sends back what it took. */
  static void putThenTake(SimpleQueue<Object> queue, Connection ctl) throws Exception {
    ctl.recv();
    queue.put("mine");
    ctl.send(queue.take());
  }

  @Test
  void closingWakesATakerHereAndLeavesTheLockFreeForTheOthers() throws Exception {
    SimpleQueue<Object> queue = SimpleQueue.create();
    try (Pipe ctl = Pipe.open()) {
      ChildProcess c = ChildProcess.of(SimpleQueueTest::putThenTake, queue, ctl.conn2());
      c.start();
      // A virtual taker: woken by the close, it waits for a carrier, so the close runs on well
      // past the moment the taker would have given its lock back, were it a platform thread.
      java.util.concurrent.CompletableFuture<Object> blocked =
          TestSupport.async(Thread.ofVirtual(), queue::take, new Thread[1]);
      ProcessLock readLock = queue.readLock();
      TestSupport.eventually("the taker holds the read lock", () -> !tryAndRelease(readLock));
      queue.close();
      Throwable woken = TestSupport.failureOf(blocked);
      if (!(woken instanceof ClosedChannelException)) { // Asynchronous… if it was in the poll
        throw new AssertionError("the taker is told the queue closed, and unlocks", woken);
      }
      ctl.conn1().send("go");
      assertEquals("mine", ctl.conn1().recv(), "the read lock was given back, not left held");
      c.join();
      assertEquals(0, c.exitCode().orElseThrow());
    }
  }

  /** Items as UTF-8 text: a codec of the user's own, which travels with the queue. */
  static final class Utf8Codec implements io.jpipe.codec.Codec, java.io.Serializable {
    @java.io.Serial private static final long serialVersionUID = 1L;

    @Override
    public void encode(Object value, java.io.OutputStream out) throws java.io.IOException {
      if (!(value instanceof String text)) {
        throw new java.io.NotSerializableException("only strings: " + value);
      }
      out.write(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public Object decode(byte[] message, int offset, int length) {
      return new String(message, offset, length, StandardCharsets.UTF_8);
    }
  }

  /** Takes one item and sends it back. */
  static void echoOne(SimpleQueue<Object> queue, Connection result) throws Exception {
    result.send(queue.take());
  }

  @Test
  void aCodecOfOnesOwnEncodesTheItemsHereAndInTheChild() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create(new Utf8Codec());
        Pipe result = Pipe.open()) {
      assertThrows(NotSerializableException.class, () -> queue.put(42), "the codec's exception");
      queue.put("héllo");
      ChildProcess c = ChildProcess.of(SimpleQueueTest::echoOne, queue, result.conn2());
      c.start();
      assertEquals("héllo", result.conn1().recv());
      c.join();
      assertEquals(0, c.exitCode().orElseThrow());
      // The child decoded plain UTF-8 bytes, which Java serialization would refuse: the codec went
      // with the queue.
    }
  }

  @Test
  void anItemThatCannotBeDecodedIsConsumedAndTheNextOneComes() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create()) {
      int fd = queue.writer().fileno();
      TestSupport.rawWrite(fd, TestSupport.concat(TestSupport.header(3), new byte[] {1, 2, 3}));
      queue.put("next");
      assertThrows(java.io.StreamCorruptedException.class, queue::take);
      assertEquals("next", queue.take(), "the bad item was one whole message: the queue goes on");
    }
  }

  @Test
  void aHostileHeaderBreaksTheQueueRatherThanMisreadIt() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create()) {
      TestSupport.rawWrite(queue.writer().fileno(), TestSupport.header(-5));
      assertThrows(ProtocolException.class, queue::take);
      assertThrows(BrokenQueueException.class, () -> queue.put("x"));
    }
  }

  @Test
  void itGoesOnlyToChildProcesses() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create();
        ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream())) {
      assertThrows(NotSerializableException.class, () -> out.writeObject(queue));
    }
  }

  /** 2 producers, 3 consumers, 20,000 items: each taken exactly once, none lost. */
  @Test
  void manyProducersAndConsumersInChildProcessesGetEachItemExactlyOnce() throws Exception {
    int producers = 2;
    int consumers = 3;
    int perProducer = 10_000;
    try (SimpleQueue<Integer> queue = SimpleQueue.create()) {
      List<Pipe> results = new ArrayList<>();
      List<ChildProcess> cs = new ArrayList<>();
      for (int i = 0; i < consumers; i++) {
        Pipe r = Pipe.open();
        results.add(r);
        cs.add(ChildProcess.of(SimpleQueueTest::consume, queue, r.conn2()).name("c" + i));
      }
      List<ChildProcess> ps = new ArrayList<>();
      for (int i = 0; i < producers; i++) {
        ps.add(ChildProcess.of(SimpleQueueTest::produce, queue, i * perProducer, perProducer));
      }
      for (ChildProcess c : cs) {
        c.start();
      }
      for (ChildProcess p : ps) {
        p.start();
      }
      for (ChildProcess p : ps) {
        p.join();
        assertEquals(0, p.exitCode().orElseThrow());
      }
      for (int i = 0; i < consumers; i++) {
        queue.put(null);
      }
      BitSet seen = new BitSet();
      int total = 0;
      for (int i = 0; i < consumers; i++) {
        int[] got = results.get(i).conn1().recv(int[].class);
        int[] lastOf = new int[producers];
        java.util.Arrays.fill(lastOf, -1);
        for (int item : got) {
          assertFalse(seen.get(item), "taken twice: " + item);
          seen.set(item);
          int producer = item / perProducer;
          assertTrue(item > lastOf[producer], "one producer's items stay in order for a consumer");
          lastOf[producer] = item;
        }
        total += got.length;
        cs.get(i).join();
        assertEquals(0, cs.get(i).exitCode().orElseThrow());
        results.get(i).close();
      }
      assertEquals(producers * perProducer, total);
      assertEquals(producers * perProducer, seen.cardinality());
      assertTrue(queue.isEmpty());
    }
  }

  /** Items larger than PIPE_BUF from two producers at once arrive whole: the write lock works. */
  @Test
  void largeItemsFromTwoProducersNeverInterleave() throws Exception {
    int n = 50;
    int size = 200_000;
    try (SimpleQueue<byte[]> queue = SimpleQueue.create()) {
      ChildProcess p1 = ChildProcess.of(SimpleQueueTest::produceLarge, queue, 0, n, size);
      ChildProcess p2 = ChildProcess.of(SimpleQueueTest::produceLarge, queue, 1000, n, size);
      p1.start();
      p2.start();
      BitSet seen = new BitSet();
      for (int k = 0; k < 2 * n; k++) {
        byte[] item = queue.take();
        int which = java.nio.ByteBuffer.wrap(item).getInt();
        assertTrue(which >= 0 && which < n || which >= 1000 && which < 1000 + n, "index " + which);
        assertArrayEquals(large(which, size), item, "item " + which + " arrives whole");
        assertFalse(seen.get(which), "taken twice: " + which);
        seen.set(which);
      }
      p1.join();
      p2.join();
      assertEquals(0, p1.exitCode().orElseThrow());
      assertEquals(0, p2.exitCode().orElseThrow());
    }
  }

  @Test
  void aConsumerKilledWhileWaitingLosesNothing() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create();
        Pipe result = Pipe.open()) {
      ChildProcess c = ChildProcess.of(SimpleQueueTest::takeOne, queue, result.conn2());
      c.start();
      ProcessLock readLock = queue.readLock();
      TestSupport.eventually("the consumer holds the read lock", () -> !tryAndRelease(readLock));
      c.kill();
      c.join();
      assertEquals(-9, c.exitCode().orElseThrow());
      queue.put("after");
      assertEquals("after", queue.take(), "the next consumer takes the lock over and goes on");
      queue.put("again");
      assertEquals("again", queue.take());
      assertFalse(result.conn1().poll(), "the killed consumer got nothing");
    }
  }

  @Test
  void aConsumerKilledInTheMiddleOfAnItemBreaksTheQueueRatherThanDeliverGarbage() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create();
        Pipe result = Pipe.open()) {
      ChildProcess c = ChildProcess.of(SimpleQueueTest::takeOne, queue, result.conn2());
      c.start();
      ProcessLock readLock = queue.readLock();
      TestSupport.eventually("the consumer holds the read lock", () -> !tryAndRelease(readLock));
      // Half a message: a header for 100 bytes and 10 of them. The consumer reads both and waits.
      int fd = queue.writer().fileno();
      TestSupport.rawWrite(fd, TestSupport.concat(TestSupport.header(100), new byte[10]));
      TestSupport.eventually("the consumer read the half message", () -> isEmpty(queue));
      c.kill();
      c.join();
      queue.put("whole"); // lands after the torn message: a reader would take it as the rest
      BrokenQueueException e = assertThrows(BrokenQueueException.class, queue::take);
      assertTrue(e.getMessage().contains("consumer died"), e.getMessage());
      assertThrows(BrokenQueueException.class, queue::take, "and it stays broken");
      assertThrows(BrokenQueueException.class, () -> queue.put("more"));
      assertFalse(result.conn1().poll(), "the killed consumer got nothing");
    }
  }

  @Test
  void aProducerKilledInTheMiddleOfALargeItemBreaksTheQueue() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create();
        Pipe result = Pipe.open()) {
      // Larger than the pipe's buffer and nobody reads: the producer blocks mid-item.
      ChildProcess p =
          ChildProcess.of(SimpleQueueTest::putOne, queue, new byte[1 << 20], result.conn2());
      p.start();
      ProcessLock writeLock = queue.writeLock();
      TestSupport.eventually("the producer holds the write lock", () -> !tryAndRelease(writeLock));
      TestSupport.eventually("part of the item is in the pipe", () -> !isEmpty(queue));
      p.kill();
      p.join();
      BrokenQueueException e = assertThrows(BrokenQueueException.class, () -> queue.put(1));
      assertTrue(e.getMessage().contains("producer died"), e.getMessage());
      assertThrows(BrokenQueueException.class, queue::take, "consumers are told too");
      assertFalse(isEmpty(queue), "the torn item is left where it is, unread");
      assertFalse(result.conn1().poll(), "the killed producer never finished its put");
    }
  }

  @Test
  void consumersWaitingBehindOneStuckInATornItemAreToldTheQueueBroke() throws Exception {
    try (SimpleQueue<Object> queue = SimpleQueue.create();
        Pipe result = Pipe.open()) {
      ChildProcess p =
          ChildProcess.of(SimpleQueueTest::putOne, queue, new byte[1 << 20], result.conn2());
      p.start();
      ProcessLock writeLock = queue.writeLock();
      TestSupport.eventually("the producer holds the write lock", () -> !tryAndRelease(writeLock));
      TestSupport.eventually("part of the item is in the pipe", () -> !isEmpty(queue));
      p.kill();
      p.join();
      // A consumer reads the part and waits for the rest, holding the read lock, for good.
      ChildProcess stuck = ChildProcess.of(SimpleQueueTest::takeOne, queue, result.conn2());
      stuck.start();
      ProcessLock readLock = queue.readLock();
      TestSupport.eventually("the consumer read what there is", () -> isEmpty(queue));
      assertFalse(tryAndRelease(readLock), "and holds the read lock");
      java.util.concurrent.CompletableFuture<Object> waiting = TestSupport.async(queue::take);
      Thread.sleep(200); // it waits for the read lock
      assertFalse(waiting.isDone());
      assertThrows(BrokenQueueException.class, () -> queue.put(1)); // sees the dead producer
      assertTrue(
          TestSupport.failureOf(waiting) instanceof BrokenQueueException,
          "the waiting consumer is told, not left behind the stuck one");
      stuck.kill();
      stuck.join();
      assertFalse(result.conn1().poll(), "neither child finished");
    }
  }

  @Test
  void aProducerKilledBetweenSmallItemsLeavesEveryItemWhole() throws Exception {
    try (SimpleQueue<Integer> queue = SimpleQueue.create()) {
      ChildProcess p = ChildProcess.of(SimpleQueueTest::produce, queue, 0, Integer.MAX_VALUE);
      p.start();
      TestSupport.eventually("items arrive", () -> !isEmpty(queue));
      p.kill(); // anywhere: each small item is one atomic write
      p.join();
      queue.writer().close();
      int expected = 0;
      try {
        for (; ; ) {
          assertEquals(expected++, queue.take());
        }
      } catch (EOFException end) {
        // every item the producer wrote, whole and in order
      }
      assertTrue(expected > 1, "some items were taken: " + expected);
    }
  }

  @Test
  void virtualThreadsPutAndTake() throws Exception {
    try (SimpleQueue<Integer> queue = SimpleQueue.create();
        var exec = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      int n = 200;
      List<java.util.concurrent.Future<Integer>> takers = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        takers.add(exec.submit(queue::take)); // most wait, parked, for the lock or for an item
      }
      for (int i = 0; i < n; i++) {
        int item = i;
        exec.submit(
            () -> {
              queue.put(item);
              return null;
            });
      }
      BitSet seen = new BitSet();
      for (var t : takers) {
        int item = t.get(TestSupport.PATIENCE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        assertFalse(seen.get(item), "taken twice: " + item);
        seen.set(item);
      }
      assertEquals(n, seen.cardinality());
    }
  }

  /**
   * Virtual threads park, never pin: takers and putters of large items all on a scheduler with ONE
   * carrier, in a JVM of their own ({@link OneCarrier}). A taker that pinned the carrier while it
   * waited for the lock or for an item would starve the putters, and the run would never end.
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
      int size = 100_000; // n of them are many times the pipe's buffer: putters wait too
      try (SimpleQueue<byte[]> queue = SimpleQueue.create()) {
        List<Thread> takers = new ArrayList<>();
        java.util.concurrent.ConcurrentLinkedQueue<byte[]> got =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (int i = 0; i < n; i++) {
          takers.add(Thread.ofVirtual().start(() -> got.add(call(queue::take))));
        }
        for (Thread t : takers) { // all blocked: one waits for an item, the others for the lock
          while (t.getState() != Thread.State.WAITING
              && t.getState() != Thread.State.TIMED_WAITING) {
            Thread.sleep(1);
          }
        }
        List<Thread> putters = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          int item = i;
          putters.add(
              Thread.ofVirtual()
                  .start(
                      () ->
                          call(
                              () -> {
                                queue.put(large(item, size));
                                return null;
                              })));
        }
        for (Thread t : takers) {
          t.join();
        }
        for (Thread t : putters) {
          t.join();
        }
        BitSet seen = new BitSet();
        for (byte[] item : got) {
          int i = java.nio.ByteBuffer.wrap(item).getInt();
          if (!java.util.Arrays.equals(large(i, size), item) || seen.get(i)) {
            throw new AssertionError("item " + i + " torn or taken twice");
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

  private static boolean isEmpty(SimpleQueue<?> queue) {
    try {
      return queue.isEmpty();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
