package io.jpipe.internal.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jpipe.MessageTooLongException;
import io.jpipe.ProtocolException;
import io.jpipe.TestSupport;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import java.io.EOFException;
import java.lang.foreign.MemorySegment;
import java.net.SocketTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The handshake's frame reader, CPython's {@code recv_bytes(256)}: a header announcing more than
 * 256 bytes is refused before another byte is read, whatever it claims; the long header form is
 * accepted for small lengths, as CPython does; end of file inside a frame is never a short message.
 */
class HandshakeFrameTest {
  private int[] pair;
  private FdChannel ours;
  private int peer;

  @BeforeEach
  void pair() throws Exception {
    pair = Fds.socketpair();
    ours = new FdChannel(pair[0], FdChannel.Kind.SOCKET);
    peer = pair[1];
  }

  @AfterEach
  void close() {
    Fds.closeQuietly(ours);
    Fds.closeQuietly(peer);
  }

  private static long soon() {
    return FdChannel.deadlineAfter(30_000_000_000L);
  }

  /** What is still unread on our end (at most 64 bytes), without waiting. */
  private byte[] unread() throws Exception {
    byte[] buf = new byte[64];
    ours.acquire();
    try {
      long r = ours.readNow(Scratch.get(), MemorySegment.ofArray(buf));
      return java.util.Arrays.copyOf(buf, (int) Math.max(0, r));
    } finally {
      ours.release();
    }
  }

  @Test
  void aHugeClaimIsRefusedBeforeAnythingMoreIsRead() throws Exception {
    byte[] after = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    for (byte[] header :
        new byte[][] {
          TestSupport.header(257), TestSupport.header(1 << 30), TestSupport.longHeader(1L << 40)
        }) {
      TestSupport.rawWrite(peer, TestSupport.concat(header, after));
      MessageTooLongException e =
          assertThrows(MessageTooLongException.class, () -> Handshake.recv(ours, soon()));
      assertEquals(256, e.limit());
      assertArrayEquals(after, unread(), "the bytes after the header stay unread");
    }
  }

  @Test
  void framesUpTo256BytesAreReadInEitherHeaderForm() throws Exception {
    byte[] body = TestSupport.payload(256, 256);
    TestSupport.rawWrite(peer, TestSupport.concat(TestSupport.header(256), body));
    assertArrayEquals(body, Handshake.recv(ours, soon()));
    TestSupport.rawWrite(peer, TestSupport.concat(TestSupport.longHeader(3), new byte[] {7, 8, 9}));
    assertArrayEquals(new byte[] {7, 8, 9}, Handshake.recv(ours, soon()));
    TestSupport.rawWrite(peer, TestSupport.header(0));
    assertArrayEquals(new byte[0], Handshake.recv(ours, soon()));
  }

  @Test
  void aNegativeLengthIsAProtocolError() throws Exception {
    TestSupport.rawWrite(peer, new byte[] {-1, -1, -1, -2});
    assertThrows(ProtocolException.class, () -> Handshake.recv(ours, soon()));
  }

  @Test
  void endOfFileInsideAFrameIsNeverAShortMessage() throws Exception {
    TestSupport.rawWrite(peer, new byte[] {-1, -1, -1, -1}); // the long form's marker, then EOF
    Fds.closeQuietly(peer);
    peer = -1;
    assertThrows(EOFException.class, () -> Handshake.recv(ours, soon()));
  }

  @Test
  void aPartialFrameTimesOut() throws Exception {
    TestSupport.rawWrite(peer, TestSupport.concat(TestSupport.header(40), new byte[9]));
    assertThrows(
        SocketTimeoutException.class,
        () -> Handshake.recv(ours, FdChannel.deadlineAfter(100_000_000L)));
  }
}
