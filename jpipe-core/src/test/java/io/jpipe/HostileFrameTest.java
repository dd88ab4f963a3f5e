package io.jpipe;

import static io.jpipe.TestSupport.concat;
import static io.jpipe.TestSupport.header;
import static io.jpipe.TestSupport.longHeader;
import static io.jpipe.TestSupport.rawWrite;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonReadableChannelException;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer may write anything: every malformed stream ends in a clear {@link IOException}, never an
 * {@link OutOfMemoryError} from a header alone, never a hang while data or end of file is there,
 * and the JVM keeps working. Each case runs on a socketpair and on a pipe.
 */
class HostileFrameTest {

  /** Writes raw bytes into a fresh pair, then closes the writing side, then runs the check. */
  private static void afterRaw(boolean duplex, byte[] raw, Consumer<Connection> check)
      throws IOException {
    try (Pipe p = Pipe.open(duplex)) {
      Connection r = duplex ? p.conn2() : p.conn1();
      Connection w = duplex ? p.conn1() : p.conn2();
      rawWrite(w.fileno(), raw);
      w.close();
      check.accept(r);
    }
  }

  private interface Call {
    void run(Connection c) throws Exception;
  }

  private static Consumer<Connection> expect(Class<? extends Throwable> type, Call call) {
    return c -> {
      Throwable t = assertThrows(Throwable.class, () -> call.run(c));
      assertTrue(type.isInstance(t), "expected " + type.getSimpleName() + " but got " + t);
    };
  }

  @AfterEach
  void theJvmStillWorks() throws IOException {
    try (Pipe p = Pipe.open()) {
      p.conn1().send("alive");
      assertEquals("alive", p.conn2().recv());
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void endOfFileInsideTheHeaderIsATruncatedMessage(boolean duplex) throws IOException {
    afterRaw(
        duplex, new byte[] {0, 0}, expect(TruncatedMessageException.class, Connection::recvBytes));
    afterRaw(
        duplex,
        new byte[] {-1, -1, -1, -1, 0, 0, 0},
        expect(TruncatedMessageException.class, Connection::recvBytes));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void endOfFileInsideTheBodyIsATruncatedMessage(boolean duplex) throws IOException {
    afterRaw(
        duplex,
        concat(header(10), new byte[3]),
        expect(TruncatedMessageException.class, Connection::recvBytes));
    afterRaw(duplex, header(10), expect(TruncatedMessageException.class, Connection::recvBytes));
    afterRaw(duplex, header(10), expect(TruncatedMessageException.class, Connection::recv));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void afterATruncatedMessageComesEndOfFile(boolean duplex) throws IOException {
    afterRaw(
        duplex,
        concat(header(3), new byte[] {1, 2, 3}, header(5), new byte[] {1}),
        r -> {
          try {
            assertArrayEquals(new byte[] {1, 2, 3}, r.recvBytes());
            assertThrows(TruncatedMessageException.class, r::recvBytes);
            assertThrows(EOFException.class, r::recvBytes);
          } catch (IOException e) {
            throw new AssertionError(e);
          }
        });
  }

  @ParameterizedTest
  @ValueSource(ints = {-2, Integer.MIN_VALUE, -1000})
  void aNegativeLengthIsAProtocolErrorAndStopsReading(int length) throws IOException {
    for (boolean duplex : new boolean[] {true, false}) {
      afterRaw(
          duplex,
          concat(header(length), "more".getBytes(java.nio.charset.StandardCharsets.US_ASCII)),
          r -> {
            assertThrows(ProtocolException.class, r::recvBytes);
            if (duplex) {
              assertFalse(r.isReadable());
              assertThrows(NonReadableChannelException.class, r::recvBytes);
            } else {
              assertTrue(r.isClosed());
              assertThrows(ClosedChannelException.class, r::recvBytes);
            }
          });
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void aLongHeaderAboveTwoToTheSixtyThreeIsAProtocolError(boolean duplex) throws IOException {
    afterRaw(duplex, longHeader(-1L), expect(ProtocolException.class, Connection::recvBytes));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void theLongHeaderFormIsAcceptedForSmallLengthsAsInCPython(boolean duplex) throws IOException {
    afterRaw(
        duplex,
        concat(longHeader(5), new byte[] {1, 2, 3, 4, 5}, header(0)),
        r -> {
          try {
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, r.recvBytes());
            assertArrayEquals(new byte[0], r.recvBytes());
          } catch (IOException e) {
            throw new AssertionError(e);
          }
        });
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void aHeaderOverMaxLengthIsRefusedBeforeAnythingIsAllocated(boolean duplex) throws IOException {
    afterRaw(
        duplex,
        header(Integer.MAX_VALUE),
        expect(MessageTooLongException.class, c -> c.recvBytes(256)));
    afterRaw(
        duplex, longHeader(1L << 40), expect(MessageTooLongException.class, c -> c.recvBytes(256)));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void aHeaderBeyondAnyArrayIsRefused(boolean duplex) throws IOException {
    afterRaw(
        duplex, longHeader(3L << 30), expect(MessageTooLongException.class, Connection::recvBytes));
    afterRaw(duplex, longHeader(1L << 62), expect(MessageTooLongException.class, Connection::recv));
    afterRaw(
        duplex,
        longHeader(3L << 30),
        expect(MessageTooLongException.class, c -> c.recvBytesInto(new byte[10])));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void aLyingHeaderCostsOnlyTheBytesThatArrive(boolean duplex) throws IOException {
    // 2 GiB announced, 10 bytes sent: the receiver grows its buffer as bytes come, so it sees
    // the truncation instead of allocating 2 GiB from the header alone.
    afterRaw(
        duplex,
        concat(header(Integer.MAX_VALUE - 8), new byte[10]),
        expect(TruncatedMessageException.class, Connection::recvBytes));
    afterRaw(
        duplex,
        concat(header(Integer.MAX_VALUE - 100), new byte[10]),
        expect(TruncatedMessageException.class, Connection::recv));
    afterRaw(
        duplex,
        concat(header(Integer.MAX_VALUE - 100), new byte[10]),
        expect(TruncatedMessageException.class, c -> c.recvBytesInto(new byte[4])));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void theSegmentPathReservesAddressSpaceNotMemory(boolean duplex) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      // 1 TiB announced: reserved lazily, so only the truncation is seen.
      afterRaw(
          duplex,
          concat(longHeader(1L << 40), new byte[100]),
          expect(TruncatedMessageException.class, c -> c.recvBytes(arena)));
      // 4 EiB announced: no address space for it, a clear refusal.
      afterRaw(
          duplex,
          longHeader(1L << 62),
          expect(MessageTooLongException.class, c -> c.recvBytes(arena)));
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void garbageGivenToRecvIsADecodingErrorAndTheStreamGoesOn(boolean duplex) throws IOException {
    byte[] challenge = "#CHALLENGE#0123456789".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    afterRaw(
        duplex,
        concat(header(challenge.length), challenge, header(0)),
        r -> {
          assertThrows(java.io.StreamCorruptedException.class, r::recv);
          assertThrows(java.io.StreamCorruptedException.class, r::recv);
          assertThrows(EOFException.class, r::recv);
        });
  }
}
