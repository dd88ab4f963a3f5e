package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jpipe.internal.io.Frames;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Messages over 2 GiB use CPython's long header ({@code FF FF FF FF} and an 8-byte length) both
 * ways, through the {@link MemorySegment} path. The real transfer moves 2 GiB + 16 bytes twice
 * (about 6 GiB of off-heap memory in all) and runs in every CI build.
 */
class LargeMessageTest {
  private static final long SIZE = (1L << 31) + 16;

  @Test
  void theLongHeaderIsCPythons() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment word = arena.allocate(16);
      // CPython 3.11 sends [b'\xff\xff\xff\xff', b'\x00\x00\x00\x00\x80\x00\x00\x00'] for 2**31.
      Frames.putHeaderForTest(word, 1L << 31);
      assertArrayEquals(
          new byte[] {-1, -1, -1, -1, 0, 0, 0, 0, (byte) 0x80, 0, 0, 0},
          word.asSlice(0, 12).toArray(ValueLayout.JAVA_BYTE));
      Frames.putHeaderForTest(word, 0x7fffffffL); // the largest short form
      assertArrayEquals(
          new byte[] {0x7f, -1, -1, -1}, word.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE));
    }
  }

  @Test
  @Timeout(600)
  void aMessageOverTwoGibibytesCrossesWhole() throws Exception {
    try (Pipe pipe = Pipe.open();
        Arena arena = Arena.ofShared()) {
      MemorySegment sent = arena.allocate(SIZE);
      sent.fill((byte) 0x5a);
      long[] marks = {0, 1, (1L << 31) - 1, 1L << 31, SIZE - 1, 123_456_789};
      for (long at : marks) {
        sent.set(ValueLayout.JAVA_BYTE, at, (byte) (at * 31 + 7));
      }
      CompletableFuture<Object> sender =
          async(
              () -> {
                pipe.conn1().sendBytes(sent);
                pipe.conn1().sendBytes(sent);
                return null;
              });

      MemorySegment got = pipe.conn2().recvBytes(arena);
      assertEquals(SIZE, got.byteSize());
      assertEquals(-1L, MemorySegment.mismatch(sent, 0, SIZE, got, 0, SIZE), "bytes differ");

      MemorySegment into = arena.allocate(SIZE + 100);
      assertEquals(SIZE, pipe.conn2().recvBytesInto(into));
      assertEquals(-1L, MemorySegment.mismatch(sent, 0, SIZE, into, 0, SIZE), "bytes differ");
      TestSupport.await(sender);
    }
  }
}
