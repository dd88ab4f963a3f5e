package io.jpipe;

import static io.jpipe.TestSupport.async;
import static io.jpipe.TestSupport.awaitBlocked;
import static io.jpipe.TestSupport.failureOf;
import static io.jpipe.TestSupport.payload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.StreamCorruptedException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonReadableChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The behaviour every kind of connection end must have: socketpair, pipe2, and (in the net package)
 * accepted and connected sockets. Subclasses say how to open a pair.
 */
public abstract class ConnectionContract {
  /** For subclasses. */
  protected ConnectionContract() {}

  /** A connected pair: {@code receiver} gets what {@code sender} sends. */
  public record Ends(Connection receiver, Connection sender) implements AutoCloseable {
    @Override
    public void close() {
      receiver.close();
      sender.close();
    }
  }

  /** Opens a fresh pair. */
  protected abstract Ends open() throws IOException;

  /** Whether both ends send and receive. */
  protected abstract boolean duplex();

  /** What /proc/self/fd shows for these descriptors: "socket" or "pipe". */
  protected abstract String fdKind();

  // ---------------------------------------------------------------- objects

  @Test
  void objectsArriveEqualAndInOrder() throws Exception {
    try (Ends e = open()) {
      List<Object> sent = new ArrayList<>();
      sent.add(List.of(1, 2.25, "three"));
      sent.add(null);
      sent.add(Map.of("k", new int[] {1, 2}.length));
      sent.add(1729);
      sent.add("x".repeat(100_000));
      CompletableFuture<Object> sending =
          async(
              () -> {
                for (Object o : sent) {
                  e.sender().send(o);
                }
                return null;
              });
      for (Object o : sent) {
        assertEquals(o, e.receiver().recv());
      }
      TestSupport.await(sending);
      assertFalse(e.receiver().poll());
    }
  }

  @Test
  void recvWithTypeChecksTheClass() throws Exception {
    try (Ends e = open()) {
      e.sender().send("text");
      e.sender().send(42);
      assertEquals("text", e.receiver().recv(String.class));
      assertThrows(ClassCastException.class, () -> e.receiver().recv(String.class));
      assertFalse(e.receiver().poll(), "the refused message was consumed");
    }
  }

  @Test
  void anObjectThatCannotBeEncodedSendsNothing() throws Exception {
    try (Ends e = open()) {
      assertThrows(NotSerializableException.class, () -> e.sender().send(new Object()));
      assertFalse(e.receiver().poll(Duration.ofMillis(50)));
      e.sender().send("after");
      assertEquals("after", e.receiver().recv());
    }
  }

  @Test
  void anEmptyMessageIsADecodingErrorNotEndOfFile() throws Exception {
    try (Ends e = open()) {
      e.sender().sendBytes(new byte[0]);
      e.sender().sendBytes("not serialized".getBytes(StandardCharsets.UTF_8));
      e.sender().send("ok");
      assertThrows(StreamCorruptedException.class, () -> e.receiver().recv());
      assertThrows(StreamCorruptedException.class, () -> e.receiver().recv());
      assertEquals("ok", e.receiver().recv(), "bad messages are consumed, the stream is in step");
    }
  }

  // ---------------------------------------------------------------- bytes

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 8, 4092, 4096, 16383, 16384, 16385, 65536, 212_993, (1 << 20) + 3})
  void bytesOfEverySizeArriveWhole(int size) throws Exception {
    try (Ends e = open()) {
      byte[] msg = payload(size, size);
      CompletableFuture<byte[]> got = async(() -> e.receiver().recvBytes());
      e.sender().sendBytes(msg);
      assertArrayEquals(msg, TestSupport.await(got));
    }
  }

  @Test
  void consecutiveMessagesStaySeparate() throws Exception {
    try (Ends e = open()) {
      e.sender().sendBytes("a".getBytes(StandardCharsets.US_ASCII));
      e.sender().sendBytes("b".getBytes(StandardCharsets.US_ASCII));
      e.sender().sendBytes("cd".getBytes(StandardCharsets.US_ASCII));
      assertEquals("a", new String(e.receiver().recvBytes(), StandardCharsets.US_ASCII));
      assertEquals("b", new String(e.receiver().recvBytes(), StandardCharsets.US_ASCII));
      assertEquals("cd", new String(e.receiver().recvBytes(), StandardCharsets.US_ASCII));
    }
  }

  @Test
  void sendBytesWithOffsetAndSize() throws Exception {
    byte[] msg = "abcdefghijklmnopqrstuvwxyz".getBytes(StandardCharsets.US_ASCII);
    try (Ends e = open()) {
      Connection s = e.sender();
      s.sendBytes(msg, 0, 26);
      s.sendBytes(msg, 5, 21);
      s.sendBytes(msg, 24, 2);
      s.sendBytes(msg, 26, 0);
      s.sendBytes(msg, 0, 0);
      assertEquals("abcdefghijklmnopqrstuvwxyz", text(e.receiver().recvBytes()));
      assertEquals("fghijklmnopqrstuvwxyz", text(e.receiver().recvBytes()));
      assertEquals("yz", text(e.receiver().recvBytes()));
      assertEquals("", text(e.receiver().recvBytes()));
      assertEquals("", text(e.receiver().recvBytes()));
    }
  }

  @Test
  void sendBytesRejectsBadOffsetAndSizeBeforeSending() throws Exception {
    byte[] msg = new byte[26];
    try (Ends e = open()) {
      Connection s = e.sender();
      assertMessage("buffer length < offset", () -> s.sendBytes(msg, 27, 0));
      assertMessage("buffer length < offset + size", () -> s.sendBytes(msg, 22, 5));
      assertMessage("buffer length < offset + size", () -> s.sendBytes(msg, 26, 1));
      assertMessage("offset is negative", () -> s.sendBytes(msg, -1, 0));
      assertMessage("size is negative", () -> s.sendBytes(msg, 4, -1));
      assertFalse(e.receiver().poll(Duration.ofMillis(20)));
    }
  }

  @Test
  void byteBuffersAndSegmentsSendAndReceive() throws Exception {
    try (Ends e = open();
        Arena arena = Arena.ofConfined()) {
      ByteBuffer heap = ByteBuffer.wrap("..heap..".getBytes(StandardCharsets.US_ASCII));
      heap.position(2).limit(6);
      ByteBuffer direct = ByteBuffer.allocateDirect(100_000);
      direct.put(payload(7, 100_000)).flip();
      MemorySegment seg = Arena.global().allocate(70_000);
      MemorySegment.copy(payload(8, 70_000), 0, seg, ValueLayout.JAVA_BYTE, 0, 70_000);
      CompletableFuture<Object> sending =
          async(
              () -> {
                e.sender().sendBytes(heap);
                e.sender().sendBytes(direct);
                e.sender().sendBytes(seg);
                e.sender().sendBytes(MemorySegment.ofArray(payload(9, 30)));
                return null;
              });

      ByteBuffer in = ByteBuffer.allocate(10);
      in.position(3);
      assertEquals(4, e.receiver().recvBytesInto(in));
      assertEquals(7, in.position());
      assertEquals("heap", new String(in.array(), 3, 4, StandardCharsets.US_ASCII));
      ByteBuffer inDirect = ByteBuffer.allocateDirect(100_000);
      assertEquals(100_000, e.receiver().recvBytesInto(inDirect));
      byte[] back = new byte[100_000];
      inDirect.flip().get(back);
      assertArrayEquals(payload(7, 100_000), back);
      MemorySegment got = e.receiver().recvBytes(arena);
      assertArrayEquals(payload(8, 70_000), got.toArray(ValueLayout.JAVA_BYTE));
      MemorySegment into = arena.allocate(64);
      assertEquals(30, e.receiver().recvBytesInto(into));
      assertArrayEquals(payload(9, 30), into.asSlice(0, 30).toArray(ValueLayout.JAVA_BYTE));
      TestSupport.await(sending);
      assertEquals(6, heap.position(), "sending consumes the remaining bytes");
      assertEquals(100_000, direct.position());
    }
  }

  @Test
  void deadOrForeignSegmentsAreRefusedBeforeAnythingMoves() throws Exception {
    try (Ends e = open()) {
      Arena closed = Arena.ofConfined();
      MemorySegment gone = closed.allocate(16);
      closed.close();
      assertThrows(IllegalStateException.class, () -> e.sender().sendBytes(gone));
      e.sender().sendBytes(new byte[] {1, 2, 3});
      assertThrows(IllegalStateException.class, () -> e.receiver().recvBytesInto(gone));
      assertThrows(IllegalStateException.class, () -> e.receiver().recvBytes(closed));
      try (Arena elsewhere = Arena.ofConfined()) {
        MemorySegment foreign =
            async(() -> Arena.ofConfined().allocate(16)).get(); // confined to a finished thread
        assertThrows(WrongThreadException.class, () -> e.receiver().recvBytesInto(foreign));
        assertThrows(WrongThreadException.class, () -> e.sender().sendBytes(foreign));
        // nothing was consumed or sent: the stream is in step
        assertArrayEquals(
            new byte[] {1, 2, 3}, e.receiver().recvBytes(elsewhere).toArray(ValueLayout.JAVA_BYTE));
        assertFalse(e.receiver().poll());
      }
    }
  }

  @Test
  void recvBytesIntoWritesAtTheOffsetAndReturnsTheLength() throws Exception {
    try (Ends e = open()) {
      byte[] buf = new byte[10];
      Arrays.fill(buf, (byte) '.');
      e.sender().sendBytes("abc".getBytes(StandardCharsets.US_ASCII));
      e.sender().sendBytes("xyz".getBytes(StandardCharsets.US_ASCII));
      e.sender().sendBytes(new byte[0]);
      assertEquals(3, e.receiver().recvBytesInto(buf));
      assertEquals(3, e.receiver().recvBytesInto(buf, 7));
      assertEquals(0, e.receiver().recvBytesInto(buf, 10));
      assertEquals("abc....xyz", text(buf));
    }
  }

  @Test
  void aMessageTooLongForTheBufferIsConsumedAndCarried() throws Exception {
    try (Ends e = open()) {
      byte[] big = payload(1, 40);
      e.sender().sendBytes(big);
      e.sender().sendBytes("next".getBytes(StandardCharsets.US_ASCII));
      byte[] buf = new byte[50];
      BufferTooShortException ex =
          assertThrows(BufferTooShortException.class, () -> e.receiver().recvBytesInto(buf, 20));
      assertArrayEquals(big, ex.message());
      assertEquals("next", text(e.receiver().recvBytes()));
      e.sender().sendBytes(big);
      ByteBuffer small = ByteBuffer.allocate(10);
      ex = assertThrows(BufferTooShortException.class, () -> e.receiver().recvBytesInto(small));
      assertArrayEquals(big, ex.message());
      assertEquals(0, small.position());
    }
  }

  @Test
  void recvBytesIntoChecksItsArgumentsBeforeReading() throws Exception {
    try (Ends e = open()) {
      e.sender().sendBytes("kept".getBytes(StandardCharsets.US_ASCII));
      byte[] buf = new byte[4];
      assertMessage("negative offset", () -> e.receiver().recvBytesInto(buf, -1));
      assertMessage("offset too large", () -> e.receiver().recvBytesInto(buf, 5));
      assertThrows(
          ReadOnlyBufferException.class,
          () -> e.receiver().recvBytesInto(ByteBuffer.allocate(8).asReadOnlyBuffer()));
      assertThrows(
          IllegalArgumentException.class, () -> e.receiver().recvBytes(-1), "negative maxLength");
      assertEquals("kept", text(e.receiver().recvBytes()), "no message was lost");
    }
  }

  @Test
  void maxLengthIsInclusive() throws Exception {
    try (Ends e = open()) {
      e.sender().sendBytes(new byte[5]);
      e.sender().sendBytes(new byte[0]);
      assertEquals(5, e.receiver().recvBytes(5).length);
      assertEquals(0, e.receiver().recvBytes(0).length);
    }
  }

  @Test
  void aMessageOverMaxLengthStopsReadingAsCPythonDoes() throws Exception {
    try (Ends e = open()) {
      e.sender().sendBytes(new byte[6]);
      MessageTooLongException ex =
          assertThrows(MessageTooLongException.class, () -> e.receiver().recvBytes(5));
      assertEquals(6, ex.length());
      assertEquals(5, ex.limit());
      if (e.receiver().isWritable()) {
        assertFalse(e.receiver().isReadable());
        assertFalse(e.receiver().isClosed(), "a duplex end keeps sending");
        assertThrows(NonReadableChannelException.class, () -> e.receiver().recvBytes());
        assertThrows(NonReadableChannelException.class, () -> e.receiver().poll());
        e.receiver().sendBytes("still sends".getBytes(StandardCharsets.US_ASCII));
        assertEquals("still sends", text(e.sender().recvBytes()));
      } else {
        assertTrue(e.receiver().isClosed(), "a receive-only end is closed");
        assertThrows(ClosedChannelException.class, () -> e.receiver().recvBytes());
      }
    }
  }

  // ---------------------------------------------------------------- poll

  @Test
  void pollReportsWithoutConsuming() throws Exception {
    try (Ends e = open()) {
      Connection r = e.receiver();
      assertFalse(r.poll());
      assertFalse(r.poll(Duration.ofMillis(-1)));
      assertFalse(r.poll(Duration.ZERO));
      assertFalse(r.poll(Duration.ofMillis(30)));
      e.sender().sendBytes(new byte[0]);
      assertTrue(r.poll(Duration.ofSeconds(30))); // TCP delivers asynchronously, even on loopback
      assertTrue(r.poll());
      assertTrue(r.poll(), "poll does not consume");
      r.awaitReadable();
      assertEquals(0, r.recvBytes().length);
      assertFalse(r.poll());
    }
  }

  @Test
  void boundedPollWaitsForTheTimeout() throws Exception {
    try (Ends e = open()) {
      long t0 = System.nanoTime();
      assertFalse(e.receiver().poll(Duration.ofMillis(200)));
      long waited = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(waited >= 199, "returned after " + waited + " ms, before the timeout");
    }
  }

  @Test
  void pollAndAwaitReturnWhenAMessageArrives() throws Exception {
    try (Ends e = open()) {
      CompletableFuture<Boolean> polled = async(() -> e.receiver().poll(Duration.ofMinutes(5)));
      CompletableFuture<Boolean> awaited =
          async(
              () -> {
                e.receiver().awaitReadable();
                return true;
              });
      Thread.sleep(50);
      e.sender().send("wake");
      assertTrue(TestSupport.await(polled));
      assertTrue(TestSupport.await(awaited));
      assertEquals("wake", e.receiver().recv());
    }
  }

  // ---------------------------------------------------------------- end of file

  @Test
  void endOfFileComesAfterTheLastMessage() throws Exception {
    try (Ends e = open()) {
      e.sender().send(1);
      e.sender().sendBytes(new byte[] {2});
      e.sender().close();
      assertTrue(e.receiver().poll(Duration.ofSeconds(30)));
      assertEquals(1, e.receiver().recv());
      assertArrayEquals(new byte[] {2}, e.receiver().recvBytes());
      assertTrue(e.receiver().poll(Duration.ofSeconds(30)), "poll is true at end of file");
      assertTrue(e.receiver().poll(), "and stays true");
      assertThrows(EOFException.class, () -> e.receiver().recv());
      assertThrows(EOFException.class, () -> e.receiver().recvBytes());
      assertThrows(EOFException.class, () -> e.receiver().recvBytesInto(new byte[4]));
      assertTrue(e.receiver().isReadable(), "flags keep their values");
      assertFalse(e.receiver().isClosed());
    }
  }

  @Test
  void sendingToAClosedPeerIsABrokenPipe() throws Exception {
    try (Ends e = open()) {
      e.receiver().close();
      IOException ex =
          assertThrows(
              IOException.class,
              () -> {
                for (int i = 0; i < 100; i++) { // TCP may accept a first write
                  e.sender().sendBytes(new byte[1000]);
                  Thread.sleep(1);
                }
              });
      assertTrue(
          ex instanceof BrokenPipeException || ex instanceof java.net.SocketException, "got " + ex);
    }
  }

  // ---------------------------------------------------------------- closing

  @Test
  void aClosedEndRefusesEverythingAndStaysClosed() throws Exception {
    Ends e = open();
    Connection c = e.receiver();
    c.close();
    c.close();
    assertTrue(c.isClosed());
    assertFalse(c.isOpen());
    assertTrue(c.isReadable(), "flags keep their values after close");
    assertThrows(ClosedChannelException.class, c::fileno);
    assertThrows(ClosedChannelException.class, c::recv);
    assertThrows(ClosedChannelException.class, c::recvBytes);
    assertThrows(ClosedChannelException.class, () -> c.recvBytesInto(new byte[1]));
    assertThrows(ClosedChannelException.class, () -> c.poll());
    assertThrows(ClosedChannelException.class, () -> c.poll(Duration.ofSeconds(1)));
    assertThrows(ClosedChannelException.class, c::awaitReadable);
    assertThrows(ClosedChannelException.class, () -> c.send("x"));
    assertThrows(ClosedChannelException.class, () -> c.sendBytes(new byte[1]));
    e.close();
    assertThrows(ClosedChannelException.class, () -> e.sender().send("x"));
  }

  @Test
  void closeFromAnotherThreadWakesABlockedReceive() throws Exception {
    try (Ends e = open()) {
      AtomicReference<Thread> blocked = new AtomicReference<>();
      CompletableFuture<Object> recv =
          async(
              () -> {
                blocked.set(Thread.currentThread());
                return e.receiver().recv();
              });
      TestSupport.eventually("thread started", () -> blocked.get() != null);
      awaitBlocked(blocked.get());
      long t0 = System.nanoTime();
      e.receiver().close();
      assertInstanceOf(AsynchronousCloseException.class, failureOf(recv));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      System.out.println("close woke a blocked recv in " + ms + " ms");
      assertTrue(ms < 1000, "woken after " + ms + " ms");
    }
  }

  @Test
  void closeFromAnotherThreadWakesABlockedPoll() throws Exception {
    try (Ends e = open()) {
      AtomicReference<Thread> blocked = new AtomicReference<>();
      CompletableFuture<Boolean> poll =
          async(
              () -> {
                blocked.set(Thread.currentThread());
                return e.receiver().poll(Duration.ofMinutes(10));
              });
      TestSupport.eventually("thread started", () -> blocked.get() != null);
      awaitBlocked(blocked.get());
      e.receiver().close();
      assertInstanceOf(AsynchronousCloseException.class, failureOf(poll));
    }
  }

  @Test
  void closeFromAnotherThreadWakesABlockedSend() throws Exception {
    try (Ends e = open()) {
      AtomicReference<Thread> blocked = new AtomicReference<>();
      CompletableFuture<Object> send =
          async(
              () -> {
                blocked.set(Thread.currentThread());
                e.sender().sendBytes(new byte[64 << 20]); // more than any kernel buffer
                return null;
              });
      TestSupport.eventually("thread started", () -> blocked.get() != null);
      awaitBlocked(blocked.get());
      e.sender().close();
      assertInstanceOf(AsynchronousCloseException.class, failureOf(send));
    }
  }

  @Test
  void interruptClosesTheEndAndWakesTheReceiver() throws Exception {
    try (Ends e = open()) {
      AtomicReference<Thread> blocked = new AtomicReference<>();
      AtomicReference<Boolean> flagKept = new AtomicReference<>();
      CompletableFuture<Object> recv =
          async(
              () -> {
                blocked.set(Thread.currentThread());
                try {
                  return e.receiver().recvBytes();
                } finally {
                  flagKept.set(Thread.currentThread().isInterrupted());
                }
              });
      TestSupport.eventually("thread started", () -> blocked.get() != null);
      awaitBlocked(blocked.get());
      long t0 = System.nanoTime();
      blocked.get().interrupt();
      assertInstanceOf(ClosedByInterruptException.class, failureOf(recv));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      System.out.println("interrupt woke a blocked recv in " + ms + " ms");
      assertTrue(ms < 1000, "woken after " + ms + " ms");
      assertTrue(flagKept.get(), "the interrupt status is kept");
      assertTrue(e.receiver().isClosed(), "an interrupt closes the end, as for NIO channels");
    }
  }

  @Test
  void aThreadWaitingForTheLockIsWokenByClose() throws Exception {
    try (Ends e = open()) {
      List<CompletableFuture<Object>> receivers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        receivers.add(async(() -> e.receiver().recv()));
      }
      Thread.sleep(100);
      e.receiver().close();
      for (CompletableFuture<Object> r : receivers) {
        Throwable t = failureOf(r);
        assertTrue(t instanceof ClosedChannelException, "got " + t); // Asynchronous or plain
      }
    }
  }

  // ---------------------------------------------------------------- threads

  @Test
  void manyThreadsOnOneEndNeverTearAMessage() throws Exception {
    int senders = 4;
    int perSender = 300;
    int[] sizes = {0, 1, 100, 4000, 5000, 16384, 16385, 70_000, 300_000};
    try (Ends e = open()) {
      Map<String, Boolean> seen = new ConcurrentHashMap<>();
      List<CompletableFuture<Integer>> readers = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        readers.add(
            async(
                () -> {
                  int n = 0;
                  for (; ; ) {
                    byte[] m;
                    try {
                      m = e.receiver().recvBytes();
                    } catch (EOFException eof) {
                      return n;
                    } catch (ClosedChannelException closed) {
                      return n;
                    }
                    String key = check(m, sizes);
                    assertNull(seen.put(key, true), "received twice: " + key);
                    n++;
                  }
                }));
      }
      List<CompletableFuture<Object>> writers = new ArrayList<>();
      for (int w = 0; w < senders; w++) {
        int id = w;
        writers.add(
            async(
                () -> {
                  for (int i = 0; i < perSender; i++) {
                    e.sender().sendBytes(message(id, i, sizes[(id + i) % sizes.length]));
                  }
                  return null;
                }));
      }
      for (CompletableFuture<Object> w : writers) {
        TestSupport.await(w);
      }
      TestSupport.eventually("all messages received", () -> seen.size() == senders * perSender);
      e.sender().close();
      int total = 0;
      for (CompletableFuture<Integer> r : readers) {
        total += TestSupport.await(r);
      }
      assertEquals(senders * perSender, total);
    }
  }

  /** Message i of sender id: an 8-byte tag then bytes derived from it, at least 8 bytes. */
  static byte[] message(int id, int i, int size) {
    byte[] body = payload(id * 1_000_000 + i, Math.max(8, size));
    ByteBuffer.wrap(body).putInt(id).putInt(i);
    return body;
  }

  static String check(byte[] m, int[] sizes) {
    assertTrue(m.length >= 8, "torn message of " + m.length + " bytes");
    ByteBuffer b = ByteBuffer.wrap(m);
    int id = b.getInt();
    int i = b.getInt();
    check(m, id, i, sizes[(id + i) % sizes.length]);
    return id + "/" + i;
  }

  /** Fails unless {@code m} is exactly message {@code i} of sender {@code id}. */
  static void check(byte[] m, int id, int i, int size) {
    byte[] expected = message(id, i, size);
    if (!java.util.Arrays.equals(expected, m)) {
      throw new AssertionError(
          "message "
              + id
              + "/"
              + i
              + " is torn: "
              + m.length
              + " bytes, expected "
              + expected.length);
    }
  }

  // ---------------------------------------------------------------- the descriptor

  @Test
  void filenoIsTheRealDescriptor() throws Exception {
    try (Ends e = open()) {
      String target = TestSupport.fdTarget(e.receiver().fileno());
      assertTrue(target.startsWith(fdKind() + ":["), "fd is " + target);
      assertTrue(
          TestSupport.fdTarget(e.sender().fileno()).startsWith(fdKind() + ":["), "sender fd");
    }
  }

  @Test
  void codecIsPerConnection() throws Exception {
    try (Ends e = open()) {
      io.jpipe.codec.Codec upper =
          new io.jpipe.codec.Codec() {
            @Override
            public void encode(Object value, java.io.OutputStream out) throws IOException {
              out.write(value.toString().toUpperCase(java.util.Locale.ROOT).getBytes());
            }

            @Override
            public Object decode(byte[] message, int offset, int length) {
              return new String(message, offset, length, StandardCharsets.UTF_8);
            }
          };
      e.sender().setCodec(upper);
      e.receiver().setCodec(upper);
      e.sender().send("shout");
      assertEquals("SHOUT", e.receiver().recv());
      assertEquals(upper, e.sender().codec());
    }
  }

  @Test
  void toStringNamesTheEnd() throws Exception {
    try (Ends e = open()) {
      assertTrue(e.receiver().toString().contains("fd="), e.receiver().toString());
      e.receiver().close();
      assertTrue(e.receiver().toString().contains("closed"), e.receiver().toString());
    }
  }

  // ---------------------------------------------------------------- helpers

  static String text(byte[] b) {
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  static void assertMessage(String fragment, org.junit.jupiter.api.function.Executable call) {
    RuntimeException ex = assertThrows(RuntimeException.class, call);
    assertTrue(
        ex instanceof IndexOutOfBoundsException || ex instanceof IllegalArgumentException,
        "got " + ex);
    assertTrue(ex.getMessage().contains(fragment), ex.getMessage());
  }
}
