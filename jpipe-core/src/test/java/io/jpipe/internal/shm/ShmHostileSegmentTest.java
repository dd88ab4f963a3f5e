package io.jpipe.internal.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.Connection;
import io.jpipe.Connections;
import io.jpipe.MessageTooLongException;
import io.jpipe.Pipe;
import io.jpipe.ProtocolException;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Memory;
import java.io.EOFException;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.NonReadableChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer holding a shared-memory pipe's segment may write anything into it (issue 12): ring
 * cursors, record headers, lock words, sleeper counts, the segment's header. A second mapping of
 * the segment plays that peer. Whatever it writes, a receive or send ends in a checked {@link
 * IOException} ({@link ProtocolException} for what no correct peer writes) or a correct result,
 * within a bounded time, without an {@link Error} or unchecked exception from the memory layer and
 * without allocating what a lying length claims; closing the pipe releases its descriptors, and the
 * JVM keeps working. Seeded: {@code -Djpipe.shm.fuzzSeed=N} to vary.
 */
class ShmHostileSegmentTest {
  private static final long SEED = Long.getLong("jpipe.shm.fuzzSeed", 20261202L);

  private static final long CAP = ShmLayout.MIN_CAPACITY;

  /** Generous for a loaded 2-CPU machine; nothing here takes more than a few milliseconds. */
  private static final Duration LIMIT = Duration.ofSeconds(20);

  private static final long W = ShmLayout.RING_CONTROL + ShmLayout.WRITE_CURSOR;
  private static final long R = ShmLayout.RING_CONTROL + ShmLayout.READ_CURSOR;

  private Set<String> fdsBefore;

  /**
   * A shared-memory pipe, and the hostile peer's mapping of its segment. Ring 0 carries {@code
   * writer}'s messages to {@code reader}.
   */
  private static final class Victim implements AutoCloseable {
    final Pipe pipe;
    final Connection reader;
    final Connection writer;
    final ShmEnd readEnd;
    final ShmEnd writeEnd;
    final Arena arena = Arena.ofShared();
    final MemorySegment seg;

    Victim(boolean duplex) throws IOException {
      pipe = Pipe.builder().duplex(duplex).sharedMemory(CAP).open();
      reader = pipe.conn1();
      writer = pipe.conn2();
      readEnd = Access.connections().shm(reader);
      writeEnd = Access.connections().shm(writer);
      assertEquals(CAP, readEnd.capacity());
      try (FileChannel fc =
          FileChannel.open(
              Path.of("/proc/self/fd/" + readEnd.memfd().fd()),
              StandardOpenOption.READ,
              StandardOpenOption.WRITE)) {
        seg =
            fc.map(
                FileChannel.MapMode.READ_WRITE,
                0,
                ShmLayout.segmentSize(duplex ? 2 : 1, CAP),
                arena);
      }
    }

    long get(long off) {
      return seg.get(ValueLayout.JAVA_LONG, off);
    }

    void put(long off, long v) {
      seg.set(ValueLayout.JAVA_LONG, off, v);
    }

    void putInt(long off, int v) {
      seg.set(ValueLayout.JAVA_INT, off, v);
    }

    void update(long off, LongUnaryOperator f) {
      put(off, f.applyAsLong(get(off)));
    }

    /** Where the record at stream position {@code pos} (rounded down to 8) of ring 0 starts. */
    long at(long pos) {
      return ShmLayout.DATA + (pos & (CAP - 1) & ~7L);
    }

    @Override
    public void close() {
      pipe.close();
      arena.close();
    }
  }

  private interface Op {
    Object run(Connection c) throws Exception;
  }

  /** Every way of receiving, each reading until it fails or returns. */
  private static final List<Op> RECEIVES =
      List.of(
          Connection::recvBytes,
          c -> c.recvBytes(64),
          c -> c.recvBytesInto(new byte[100]),
          c -> c.recvBytesInto(new byte[(int) (4 * CAP)]),
          c -> {
            try (Arena a = Arena.ofConfined()) {
              return c.recvBytes(a).byteSize();
            }
          },
          c -> {
            try (Arena a = Arena.ofConfined()) {
              return c.recvBytesInto(a.allocate(300));
            }
          },
          c -> c.poll() ? c.recvBytes() : null,
          c -> {
            Connections.waitAny(List.of(c), Duration.ofSeconds(5));
            return c.recvBytes();
          },
          Connection::recv);

  @BeforeEach
  void rememberDescriptors() throws IOException {
    fdsBefore = openFds();
  }

  /** Every socket and memfd of the test is closed, and another pipe works. */
  @AfterEach
  void nothingLeftAndTheJvmStillWorks() throws Exception {
    assertTimeoutPreemptively(
        LIMIT,
        () -> {
          for (; ; ) {
            Set<String> left = openFds();
            left.removeAll(fdsBefore);
            left.removeIf(t -> !t.startsWith("socket:") && !t.contains("memfd:"));
            if (left.isEmpty()) {
              break;
            }
            Thread.sleep(10); // a descriptor is closed by the last thread that used it
          }
        },
        "every socket and memfd of the test is closed");
    for (boolean shm : new boolean[] {true, false}) {
      Pipe.Builder b = Pipe.builder();
      if (shm) {
        b.sharedMemory(CAP);
      }
      try (Pipe p = b.open()) {
        p.conn1().send("alive");
        assertEquals("alive", p.conn2().recv());
        byte[] big = new byte[(int) (3 * CAP + 5)];
        new Random(1).nextBytes(big);
        Thread t = Thread.ofPlatform().start(() -> sendQuietly(p.conn1(), big));
        assertArrayEquals(big, p.conn2().recvBytes());
        t.join();
      }
    }
  }

  private static void sendQuietly(Connection c, byte[] b) {
    try {
      c.sendBytes(b);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static Set<String> openFds() throws IOException {
    Set<String> out = new HashSet<>();
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path p : fds.toList()) {
        try {
          out.add(Files.readSymbolicLink(p).toString());
        } catch (IOException e) {
          // the directory stream's own descriptor, closed meanwhile
        }
      }
    }
    return out;
  }

  /**
   * Receives with {@code op} until the end stops (end of file, or a failure after which the end is
   * no longer readable), on a platform or virtual thread; returns what was thrown, in order. Fails
   * on anything but a checked exception, or if it takes longer than {@link #LIMIT}.
   */
  private static List<Throwable> drain(Connection c, Op op, boolean virtual) {
    return assertTimeoutPreemptively(
        LIMIT,
        () -> {
          AtomicReference<List<Throwable>> out = new AtomicReference<>();
          AtomicReference<Throwable> bad = new AtomicReference<>();
          Runnable body =
              () -> {
                List<Throwable> thrown = new ArrayList<>();
                try {
                  for (int i = 0; i < 4 * (int) CAP; i++) {
                    try {
                      op.run(c);
                    } catch (NonReadableChannelException | ClosedChannelException e) {
                      thrown.add(e);
                      break; // stopped reading after a failure
                    } catch (EOFException e) {
                      thrown.add(e);
                      break;
                    } catch (IOException e) {
                      thrown.add(e);
                      if (thrown.size() > 3) {
                        break;
                      }
                    }
                    if (i == 4 * (int) CAP - 1) {
                      throw new AssertionError("more messages than the ring can hold");
                    }
                  }
                  out.set(thrown);
                } catch (Throwable t) {
                  bad.set(t);
                }
              };
          Thread t =
              virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().daemon().start(body);
          t.join();
          if (bad.get() != null) {
            throw new AssertionError("not a checked exception: " + bad.get(), bad.get());
          }
          return out.get();
        });
  }

  private static void assertFirst(Class<? extends Throwable> type, List<Throwable> thrown) {
    assertFalse(thrown.isEmpty(), "nothing thrown");
    assertTrue(
        type.isInstance(thrown.get(0)),
        "expected " + type.getSimpleName() + " first but got " + thrown);
  }

  /** A few messages in ring 0, the writer closed (so that a reader never waits for more). */
  private static Victim withMessages(boolean duplex, int... sizes) throws IOException {
    Victim v = new Victim(duplex);
    try {
      for (int n : sizes) {
        v.writer.sendBytes(new byte[n]);
      }
      v.writer.close();
      return v;
    } catch (IOException | RuntimeException e) {
      v.close();
      throw e;
    }
  }

  // ---------------------------------------------------------------- cursors (reader)

  @ParameterizedTest
  @ValueSource(
      longs = {
        CAP + 8, // write cursor beyond the capacity
        -CAP - 8, // further behind the read cursor than a dead writer can leave it
        -CAP,
        1L << 40, // a huge jump
        Long.MIN_VALUE,
        Long.MAX_VALUE - 7,
        13, // not at a record boundary
        3
      })
  void aWriteCursorNoPeerWritesIsAProtocolError(long delta) throws IOException {
    for (boolean virtual : new boolean[] {false, true}) {
      try (Victim v = withMessages(true, 10, 100)) {
        v.put(W, v.get(R) + delta);
        List<Throwable> thrown = drain(v.reader, Connection::recvBytes, virtual);
        assertFirst(ProtocolException.class, thrown);
        assertFalse(v.reader.isReadable(), "stops reading, as after a malformed header");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {4, 1, 8 * 1000, -8 * 1000, 1L << 50, Long.MIN_VALUE})
  void aReadCursorNoPeerWritesIsAProtocolError(long delta) throws IOException {
    // the write cursor stays at 128: the read cursor is misaligned, ahead, or too far behind
    try (Victim v = withMessages(false, 10, 100)) {
      v.update(R, r -> r + delta);
      assertFirst(ProtocolException.class, drain(v.reader, Connection::recvBytes, false));
      assertTrue(v.reader.isClosed(), "a receive-only end is closed, as after a bad header");
    }
  }

  @Test
  void aReadCursorGoingBackwardsReplaysOnlyWhatIsThere() throws IOException {
    try (Victim v = withMessages(true, 10, 20)) {
      assertEquals(10, v.reader.recvBytes().length);
      assertEquals(20, v.reader.recvBytes().length);
      // the read cursor back by the two records (24 and 32 bytes): they are there once more
      v.update(R, r -> r - 56);
      assertEquals(10, v.reader.recvBytes().length);
      assertEquals(20, v.reader.recvBytes().length);
      assertThrows(EOFException.class, v.reader::recvBytes);
    }
  }

  // ---------------------------------------------------------------- record headers

  @ParameterizedTest
  @ValueSource(
      longs = {
        0L, // no record where the write cursor says there is one
        -1L, // a chunk of 2^62 - 1 bytes
        ShmLayout.TYPE_CHUNK, // a chunk of no bytes
        ShmLayout.TYPE_WHOLE | (CAP - 8), // a whole record that leaves no room after it
        CAP, // type 0, the one no record has
        CAP - 8, // type 0 too
        24, // type 0: no record of 24 bytes has a header of 24
        Integer.MAX_VALUE,
        (long) Integer.MAX_VALUE + 1,
        ShmLayout.LENGTH_MASK, // 2^62 - 1
        ShmLayout.TYPE_FIRST, // a FIRST of no bytes
        ShmLayout.TYPE_CHUNK | CAP, // a CHUNK without FIRST, past what was published
        ShmLayout.TYPE_CHUNK | ShmLayout.LENGTH_MASK,
      })
  void aRecordHeaderNoPeerWritesIsAProtocolError(long header) throws IOException {
    for (boolean virtual : new boolean[] {false, true}) {
      try (Victim v = withMessages(true, 16)) { // one record of 24 bytes
        v.put(v.at(v.get(R)), header);
        assertFirst(ProtocolException.class, drain(v.reader, Connection::recvBytes, virtual));
      }
    }
  }

  @Test
  void aChunkWithoutFirstIsSkippedAsADeadReadersLeftover() throws IOException {
    try (Victim v = withMessages(true, 16, 7)) {
      v.put(v.at(v.get(R)), ShmLayout.TYPE_CHUNK | 16); // the first record becomes a stray chunk
      assertEquals(7, v.reader.recvBytes().length);
      assertThrows(EOFException.class, v.reader::recvBytes);
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {1L << 62, (1L << 62) - 1, 1L << 40, 1L << 31, (1L << 31) - 16})
  void aFirstClaimingHugeLengthsAllocatesNothingForTheClaim(long claim) throws IOException {
    long len = Math.min(claim, ShmLayout.LENGTH_MASK);
    for (Op op : RECEIVES) {
      try (Victim v = withMessages(true, 16, 5)) {
        v.put(v.at(v.get(R)), ShmLayout.TYPE_FIRST | len);
        v.put(v.at(v.get(R) + 8), ShmLayout.TYPE_WHOLE | 8); // the rest of the 24 bytes: a record
        // too long to carry, or carried as far as chunks come (the next record is not one, so
        // the message is dropped and what follows is received, or decoded in vain by recv)
        List<Throwable> thrown = drain(v.reader, op, false);
        assertFalse(thrown.isEmpty());
        Throwable last = thrown.get(thrown.size() - 1);
        assertTrue(
            thrown.get(0) instanceof MessageTooLongException || last instanceof EOFException,
            "got " + thrown);
      }
    }
  }

  @Test
  void aFirstFollowedByAForeignRecordDropsTheMessage() throws IOException {
    try (Victim v = withMessages(true, 0, 5)) {
      v.put(v.at(v.get(R)), ShmLayout.TYPE_FIRST | 1_000_000); // then a WHOLE, not a CHUNK
      assertEquals(5, v.reader.recvBytes().length);
      assertThrows(EOFException.class, v.reader::recvBytes);
    }
  }

  // ---------------------------------------------------------------- cursors (writer)

  @ParameterizedTest
  @ValueSource(longs = {8, 4, -CAP - 8, 1L << 40, Long.MIN_VALUE})
  void aSendFailsCleanlyOnANonsenseReadCursor(long delta) throws Exception {
    try (Victim v = new Victim(true)) {
      v.writer.sendBytes(new byte[10]);
      long w = v.get(W);
      v.put(R, w + delta); // ahead of the write cursor, misaligned, or too far behind
      byte[] small = new byte[10];
      byte[] big = new byte[(int) (2 * CAP)];
      assertTimeoutPreemptively(
          LIMIT,
          () -> {
            // a streamed message always looks at the read cursor; a small one only when the room
            // the writer last saw does not hold it (ShmEnd's "A corrupt segment")
            assertThrows(ProtocolException.class, () -> v.writer.sendBytes(big));
            v.writeEnd.forgetRoomSeen();
            assertThrows(ProtocolException.class, () -> v.writer.sendBytes(small));
            v.writeEnd.forgetRoomSeen();
            assertThrows(ProtocolException.class, () -> v.writer.send("x"));
          });
      assertEquals(w, v.get(W), "nothing published");
      // the ring made consistent again (empty), the same ends carry messages
      v.put(R, w);
      assertTimeoutPreemptively(
          LIMIT,
          () -> {
            v.writer.sendBytes(small);
            assertArrayEquals(small, v.reader.recvBytes());
            v.reader.sendBytes(small); // the other direction never was in question
            assertArrayEquals(small, v.writer.recvBytes());
          });
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {3, 12, Long.MIN_VALUE + 4})
  void aSendFailsCleanlyOnAMisalignedWriteCursor(long w) throws Exception {
    try (Victim v = new Victim(true)) {
      v.put(W, w);
      v.put(R, w);
      assertTimeoutPreemptively(
          LIMIT,
          () -> assertThrows(ProtocolException.class, () -> v.writer.sendBytes(new byte[10])));
    }
  }

  // ---------------------------------------------------------------- lock words

  /**
   * A writer that died between storing a record's header and its write cursor (made by hand here:
   * the record written past the write cursor, the write lock naming no live holder): the record is
   * complete, so a reader takes it, and the next writer, taking the lock over, completes its
   * publication before it writes its own message after it. Nothing is read twice or lost.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void aRecordWhoseWriterDiedBeforeItsCursorIsDeliveredOnce(boolean readFirst) throws Exception {
    try (Victim v = new Victim(true)) {
      v.writer.sendBytes(new byte[] {1});
      assertArrayEquals(new byte[] {1}, v.reader.recvBytes());
      long w = v.get(W);
      v.put(v.at(w) + 8, 0x0807_0605_0403_0201L); // the payload, 8 bytes
      v.put(v.at(w + 16), 0); // the header slot after the record
      v.put(v.at(w), ShmLayout.TYPE_WHOLE | 8); // the header; the write cursor stays at w
      v.putInt(ShmLayout.RING_CONTROL + ShmLayout.WRITE_LOCK, 0x3ff | 5 << 10); // no live holder
      byte[] dead = {1, 2, 3, 4, 5, 6, 7, 8};
      assertTimeoutPreemptively(
          LIMIT,
          () -> {
            if (readFirst) {
              assertArrayEquals(dead, v.reader.recvBytes());
              assertEquals(w, v.get(W), "the reader is one record past the write cursor");
            }
            v.writer.sendBytes(new byte[] {9});
            assertEquals(w + 32, v.get(W), "the dead writer's record, then the new one");
            if (!readFirst) {
              assertArrayEquals(dead, v.reader.recvBytes());
            }
            assertArrayEquals(new byte[] {9}, v.reader.recvBytes());
            v.writer.close();
            assertThrows(EOFException.class, v.reader::recvBytes);
          });
    }
  }

  /** Lock words no live holder owns: taken over, as a dead holder's. */
  @ParameterizedTest
  @ValueSource(
      ints = {
        RingLock.WAITERS, // nobody, with the waiter bit
        1, // slot 1, generation 0: never a live token (generations start at 1)
        0x3ff | 5 << 10, // an unclaimed slot
        -1,
        0x7fff_ffff
      })
  void aLockWordOfNoLiveHolderIsTakenOver(int word) throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      try (Victim v = new Victim(true)) {
        long readLock = ShmLayout.RING_CONTROL + ShmLayout.READ_LOCK;
        long writeLock = ShmLayout.RING_CONTROL + ShmLayout.WRITE_LOCK;
        v.putInt(writeLock, word);
        v.putInt(readLock, word);
        assertTimeoutPreemptively(
            LIMIT,
            () -> {
              Thread t =
                  (virtual ? Thread.ofVirtual() : Thread.ofPlatform())
                      .start(() -> sendQuietly(v.writer, new byte[] {1, 2, 3}));
              assertArrayEquals(new byte[] {1, 2, 3}, v.reader.recvBytes());
              t.join();
            });
      }
    }
  }

  @Test
  void aLockWordNamingTheWaiterItselfIsAProtocolError() throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      try (Victim v = new Victim(true)) {
        v.writer.sendBytes(new byte[] {7});
        v.putInt(ShmLayout.RING_CONTROL + ShmLayout.READ_LOCK, v.readEnd.segment().token());
        v.putInt(
            ShmLayout.RING_CONTROL + ShmLayout.WRITE_LOCK,
            v.writeEnd.segment().token() | RingLock.WAITERS);
        List<Throwable> thrown = drain(v.reader, Connection::recvBytes, virtual);
        assertFirst(ProtocolException.class, thrown);
        assertTimeoutPreemptively(
            LIMIT,
            () -> {
              Throwable[] got = new Throwable[1];
              Thread t =
                  (virtual ? Thread.ofVirtual() : Thread.ofPlatform())
                      .start(
                          () ->
                              got[0] =
                                  assertThrows(
                                      IOException.class, () -> v.writer.sendBytes(new byte[1])));
              t.join();
              assertTrue(got[0] instanceof ProtocolException, "got " + got[0]);
            });
      }
    }
  }

  @Test
  void aLockHeldByALivePeerIsTakenOverWhenThePeerCloses() throws Exception {
    try (Victim v = new Victim(true)) {
      v.writer.sendBytes(new byte[] {9});
      v.putInt(ShmLayout.RING_CONTROL + ShmLayout.READ_LOCK, v.writeEnd.segment().token());
      assertTimeoutPreemptively(
          LIMIT,
          () -> {
            AtomicReference<Object> got = new AtomicReference<>();
            Thread t =
                Thread.ofPlatform()
                    .start(
                        () -> {
                          try {
                            got.set(v.reader.recvBytes());
                          } catch (IOException e) {
                            got.set(e);
                          }
                        });
            v.writer.close(); // its attachment goes: the word names a dead holder
            t.join();
            assertArrayEquals(new byte[] {9}, (byte[]) got.get());
          });
    }
  }

  // ---------------------------------------------------------------- sleeper count, wake requests

  @ParameterizedTest
  @ValueSource(ints = {-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 1 << 20})
  void corruptSleeperCountsAndWakeRequestsCostWakeUpsNotMessages(int count) throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      try (Victim v = new Victim(true)) {
        long ctl = ShmLayout.RING_CONTROL;
        v.putInt(ctl + ShmLayout.READ_SLEEPERS, count);
        v.putInt(ctl + ShmLayout.READ_WAKE, count);
        v.putInt(ctl + ShmLayout.WRITE_WAKE, count);
        v.put(ctl + ShmLayout.ROOM_WANTED, (long) count << 3);
        Random rnd = new Random(SEED);
        List<byte[]> msgs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
          byte[] m = new byte[rnd.nextInt(4) == 0 ? rnd.nextInt((int) (3 * CAP)) : rnd.nextInt(64)];
          rnd.nextBytes(m);
          msgs.add(m);
        }
        assertTimeoutPreemptively(
            LIMIT,
            () -> {
              Thread t =
                  (virtual ? Thread.ofVirtual() : Thread.ofPlatform())
                      .start(
                          () -> {
                            for (byte[] m : msgs) {
                              sendQuietly(v.writer, m);
                            }
                          });
              for (int i = 0; i < msgs.size(); i++) {
                if (i % 3 == 0) {
                  assertEquals(List.of(v.reader), Connections.waitAny(List.of(v.reader), LIMIT));
                }
                assertArrayEquals(msgs.get(i), v.reader.recvBytes());
              }
              t.join();
            });
      }
    }
  }

  // ---------------------------------------------------------------- the segment's header

  @Test
  void theHeaderIsReadOnceAndCheckedAgainstTheSegmentsRealSize() throws Exception {
    try (Victim v = new Victim(false)) {
      int fd = v.readEnd.memfd().fd();
      long[][] headers = {
        {2 * CAP, 1}, // a valid capacity, larger than the file
        {ShmLayout.MAX_CAPACITY, 1},
        {CAP, 2}, // a second ring the file does not have
        {CAP + 8, 1},
        {0, 1},
        {-CAP, 1},
        {CAP, 7},
        {CAP, -1},
      };
      for (long[] h : headers) {
        v.put(ShmLayout.HDR_CAPACITY, h[0]);
        v.putInt(ShmLayout.HDR_RINGS, (int) h[1]);
        assertThrows(
            InvalidObjectException.class,
            () -> ShmSegment.attach(fd),
            "capacity " + h[0] + ", rings " + h[1]);
        // the ends attached before read their rings as they were
        assertTimeoutPreemptively(
            LIMIT,
            () -> {
              v.writer.sendBytes(new byte[] {4, 2});
              assertArrayEquals(new byte[] {4, 2}, v.reader.recvBytes());
            });
      }
      v.putInt(ShmLayout.HDR_MAGIC, 0);
      v.put(ShmLayout.HDR_CAPACITY, CAP);
      v.putInt(ShmLayout.HDR_RINGS, 1);
      assertThrows(InvalidObjectException.class, () -> ShmSegment.attach(fd));
      v.putInt(ShmLayout.HDR_MAGIC, ShmLayout.MAGIC);
      ShmSegment.attach(fd).close(); // as it was: attaches
    }
  }

  @Test
  void aSegmentThatCouldShrinkIsRefused() throws Exception {
    // a peer's own memfd, right header and size, but not sealed: it could be truncated under us
    Scratch s = Scratch.get();
    int memfd;
    try (Arena a = Arena.ofConfined()) {
      memfd = Libc.memfdCreate(s.errno, a.allocateFrom("hostile"), Linux.MFD_CLOEXEC);
    }
    assertTrue(memfd >= 0);
    try {
      long size = ShmLayout.segmentSize(1, CAP);
      assertEquals(0, Libc.ftruncate(s.errno, memfd, size));
      MemorySegment map = Memory.mapShared(s.errno, memfd, size);
      map.set(ValueLayout.JAVA_INT, ShmLayout.HDR_MAGIC, ShmLayout.MAGIC);
      map.set(ValueLayout.JAVA_INT, ShmLayout.HDR_VERSION, ShmLayout.VERSION);
      map.set(ValueLayout.JAVA_INT, ShmLayout.HDR_RINGS, 1);
      map.set(ValueLayout.JAVA_LONG, ShmLayout.HDR_CAPACITY, CAP);
      Memory.unmap(map);
      assertThrows(InvalidObjectException.class, () -> ShmSegment.attach(memfd));
      // and one too small to hold a header at all
      assertEquals(0, Libc.ftruncate(s.errno, memfd, 100));
      assertThrows(InvalidObjectException.class, () -> ShmSegment.attach(memfd));
    } finally {
      Libc.close(s.errno, memfd);
    }
  }

  // ---------------------------------------------------------------- seeded random fuzzing

  private static final long[] NASTY = {
    0,
    1,
    4,
    7,
    8,
    -1,
    -8,
    CAP - 8,
    CAP,
    CAP + 8,
    2 * CAP,
    Integer.MAX_VALUE,
    (long) Integer.MAX_VALUE + 1,
    1L << 32,
    1L << 40,
    (1L << 62) - 1,
    1L << 62,
    Long.MAX_VALUE,
    Long.MIN_VALUE,
  };

  private static long nasty(Random rnd) {
    long v = NASTY[rnd.nextInt(NASTY.length)];
    return switch (rnd.nextInt(4)) {
      case 0 -> v;
      case 1 -> -v;
      case 2 -> v + 8 * (rnd.nextInt(9) - 4);
      default -> rnd.nextLong();
    };
  }

  private static long header(Random rnd) {
    long type = (long) rnd.nextInt(4) << 62;
    long len =
        rnd.nextBoolean()
            ? nasty(rnd) & ShmLayout.LENGTH_MASK
            : rnd.nextInt((int) (2 * CAP)) & ShmLayout.LENGTH_MASK;
    return type | len;
  }

  /** One corruption of ring 0 or the header, as a hostile peer would write it. */
  private static void corrupt(Victim v, Random rnd) {
    long ctl = ShmLayout.RING_CONTROL;
    long r = v.get(R);
    long w = v.get(W);
    switch (rnd.nextInt(10)) {
      case 0 -> v.put(W, r + nasty(rnd));
      case 1 -> v.put(W, w + nasty(rnd));
      case 2 -> v.put(R, w - nasty(rnd));
      case 3 -> v.put(R, r + 8 * (rnd.nextInt(64) - 32));
      case 4 -> v.put(v.at(r), header(rnd));
      case 5 -> v.put(v.at(r + 8 * rnd.nextInt((int) (CAP / 8))), header(rnd));
      case 6 ->
          v.putInt(
              ctl + (rnd.nextBoolean() ? ShmLayout.READ_LOCK : ShmLayout.WRITE_LOCK),
              (int) nasty(rnd));
      case 7 ->
          v.putInt(
              ctl
                  + switch (rnd.nextInt(4)) {
                    case 0 -> ShmLayout.READ_SLEEPERS;
                    case 1 -> ShmLayout.READ_WAKE;
                    case 2 -> ShmLayout.ROOM_WANTED;
                    default -> ShmLayout.WRITE_WAKE;
                  },
              (int) nasty(rnd));
      case 8 -> v.put(ShmLayout.HDR_CAPACITY, nasty(rnd));
      default -> v.put(v.at(rnd.nextLong()), rnd.nextLong()); // a random word of the ring
    }
  }

  @Test
  void seededCorruptionsOfAFilledRingEndCleanly() throws Exception {
    Random rnd = new Random(SEED);
    for (int round = 0; round < 100; round++) {
      boolean duplex = rnd.nextBoolean();
      int[] sizes = new int[rnd.nextInt(6)];
      int total = 0;
      for (int i = 0; i < sizes.length; i++) {
        sizes[i] = rnd.nextInt(600);
        total += (int) ShmLayout.recordSize(sizes[i]);
      }
      if (total > CAP) {
        continue;
      }
      try (Victim v = withMessages(duplex, sizes)) {
        int k = 1 + rnd.nextInt(3);
        for (int i = 0; i < k; i++) {
          corrupt(v, rnd);
        }
        Op op = RECEIVES.get(rnd.nextInt(RECEIVES.size()));
        String what = "round " + round + " (seed " + SEED + ")";
        List<Throwable> thrown;
        try {
          thrown = drain(v.reader, op, rnd.nextInt(4) == 0);
        } catch (AssertionError e) {
          throw new AssertionError(what + ": " + e.getMessage(), e);
        }
        assertFalse(thrown.isEmpty(), what + ": neither end of file nor a failure");
      }
    }
  }

  @Test
  void seededCorruptionsSeenByAWriterEndCleanly() throws Exception {
    Random rnd = new Random(SEED + 1);
    for (int round = 0; round < 60; round++) {
      try (Victim v = new Victim(true)) {
        v.writer.sendBytes(new byte[rnd.nextInt(200)]);
        long w = v.get(W);
        long r = v.get(R);
        long nr = rnd.nextBoolean() ? r + nasty(rnd) : w - nasty(rnd);
        long nw = rnd.nextInt(4) == 0 ? w + nasty(rnd) : w;
        v.put(R, nr);
        v.put(W, nw);
        v.writeEnd.forgetRoomSeen(); // as a writer that has sent more than a ring since it looked
        long used = nw - nr;
        boolean sane = used >= 0 && used <= CAP && ((nr | nw) & 7) == 0;
        byte[] m = new byte[rnd.nextInt((int) (2 * CAP))];
        String what = "round " + round + ": w " + nw + ", r " + nr;
        if (sane && CAP - used < ShmLayout.recordSize(Math.min(m.length, CAP))) {
          continue; // a full ring that nobody reads: a send waits, as on a kernel pipe
        }
        boolean streamed = ShmLayout.recordSize(m.length) > CAP;
        assertTimeoutPreemptively(
            LIMIT,
            () -> {
              Thread t = null;
              if (sane && streamed) {
                t = Thread.ofPlatform().start(() -> drainQuietly(v.reader));
              }
              try {
                v.writer.sendBytes(m);
                assertTrue(sane, what + ": sent over nonsense cursors");
              } catch (ProtocolException e) {
                assertFalse(sane, what + ": " + e);
              } catch (io.jpipe.BrokenPipeException e) {
                // the reader found the shifted records corrupt, stopped and closed
                assertTrue(sane && streamed, what + ": " + e);
              } finally {
                v.writer.close();
                if (t != null) {
                  t.join();
                }
              }
            },
            what);
      }
    }
  }

  /**
   * A peer that scribbles while messages flow (some streamed, larger than the ring): each end ends
   * in a checked exception or end of file, never an unchecked one. Writes that make each end wait
   * for the other (a write cursor set back to the read cursor while the writer waits for room) are
   * a peer that stops reading or writing, which closing the ends resolves.
   */
  @Test
  void aPeerScribblingWhileMessagesFlowEndsCleanly() throws Exception {
    Random rounds = new Random(SEED + 2);
    for (int round = 0; round < 6; round++) {
      long seed = rounds.nextLong();
      String what = "round " + round + " (seed " + SEED + ")";
      try (Victim v = new Victim(true)) {
        assertTimeoutPreemptively(
            LIMIT,
            () -> {
              AtomicReference<Throwable> bad = new AtomicReference<>();
              Thread writer =
                  Thread.ofPlatform()
                      .start(
                          () -> {
                            Random wr = new Random(seed ^ 1);
                            try {
                              for (int i = 0; i < 200; i++) {
                                v.writer.sendBytes(
                                    new byte[wr.nextInt(8) == 0 ? (int) (3 * CAP) : 100]);
                              }
                            } catch (IOException e) {
                              // corrupt, or the reader gone, or closed below
                            } catch (Throwable t) {
                              bad.set(t);
                            } finally {
                              v.writer.close();
                            }
                          });
              Thread reader =
                  Thread.ofVirtual()
                      .start(
                          () -> {
                            try {
                              for (; ; ) {
                                v.reader.recvBytes();
                              }
                            } catch (IOException | NonReadableChannelException e) {
                              // corrupt, or end of file, or closed below
                            } catch (Throwable t) {
                              bad.set(t);
                            } finally {
                              v.reader.close();
                            }
                          });
              Random sr = new Random(seed);
              for (int i = 0; i < 20; i++) {
                java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                corrupt(v, sr);
              }
              writer.join(2000);
              reader.join(2000);
              v.writer.close(); // each may wait for the other (see above): closing ends it
              v.reader.close();
              writer.join();
              reader.join();
              if (bad.get() != null) {
                throw new AssertionError(what + ": " + bad.get(), bad.get());
              }
            },
            what);
      }
    }
  }

  private static void drainQuietly(Connection c) {
    try {
      for (; ; ) {
        c.recvBytes();
      }
    } catch (IOException | RuntimeException e) {
      // end of file, or the corrupt records before it
    } finally {
      c.close(); // a writer waiting for room learns that nobody reads
    }
  }
}
