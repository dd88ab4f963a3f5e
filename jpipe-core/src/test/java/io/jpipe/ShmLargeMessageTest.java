package io.jpipe;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Memory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Messages far larger than the ring stream through it in order: a 4 GiB message (plus 16 bytes)
 * crosses a shared-memory pipe whole, from an off-heap segment to an off-heap segment. The source
 * is reserved memory that is mostly never touched (the kernel's zero page) with a distinct value in
 * every mebibyte, so the test needs about 4 GiB, for the received copy.
 */
class ShmLargeMessageTest {
  private static final long SIZE = (1L << 32) + 16;

  @Test
  @Timeout(300)
  void aFourGibibyteMessageCrossesWhole() throws Exception {
    try (Pipe pipe = Pipe.builder().sharedMemory(4 << 20).open();
        Arena arena = Arena.ofShared()) {
      MemorySegment sent = Memory.attach(Memory.mapReserve(Scratch.get().errno, SIZE), arena);
      for (long at = 0; at + 8 <= SIZE; at += 1 << 20) {
        sent.set(ValueLayout.JAVA_LONG_UNALIGNED, at, at * 0x9E3779B97F4A7C15L + 1);
      }
      long[] marks = {1, (1L << 31) - 1, 1L << 31, (1L << 32) - 1, 1L << 32, SIZE - 1};
      for (long at : marks) {
        sent.set(ValueLayout.JAVA_BYTE, at, (byte) (at * 31 + 7));
      }
      CompletableFuture<Object> sender =
          async(
              () -> {
                pipe.conn1().sendBytes(new byte[] {1, 2, 3});
                pipe.conn1().sendBytes(sent);
                pipe.conn1().sendBytes(new byte[] {4, 5});
                return null;
              });
      assertArrayEquals(new byte[] {1, 2, 3}, pipe.conn2().recvBytes());
      long t0 = System.nanoTime();
      MemorySegment got = pipe.conn2().recvBytes(arena);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertEquals(SIZE, got.byteSize());
      assertEquals(-1L, MemorySegment.mismatch(sent, 0, SIZE, got, 0, SIZE), "bytes differ");
      assertArrayEquals(new byte[] {4, 5}, pipe.conn2().recvBytes(), "in order after it");
      TestSupport.await(sender);
      System.out.printf("4 GiB through a 4 MiB ring in %d ms%n", ms);
    }
  }

  /**
   * Messages from 256 KiB to the ring's own size (a record that fills the ring): every size arrives
   * whole and in order, into arrays, segments and a buffer too short for it.
   */
  @Test
  void messagesUpToTheRingsSizeArriveWholeInOrder() throws Exception {
    int[] sizes = {
      (256 << 10) - 1, 256 << 10, (256 << 10) + 1, 1 << 20, (1 << 20) + 5, (4 << 20) - 8, 3 << 20
    };
    try (Pipe pipe = Pipe.builder().duplex(false).sharedMemory(4 << 20).open();
        Arena arena = Arena.ofConfined()) {
      CompletableFuture<Object> sender =
          async(
              () -> {
                for (int round = 0; round < 3; round++) {
                  for (int i = 0; i < sizes.length; i++) {
                    byte[] m = TestSupport.payload(round * 100 + i, sizes[i]);
                    if (i % 2 == 0) {
                      pipe.conn2().sendBytes(m);
                    } else {
                      try (Arena a = Arena.ofConfined()) {
                        pipe.conn2()
                            .sendBytes(a.allocate(m.length).copyFrom(MemorySegment.ofArray(m)));
                      }
                    }
                    pipe.conn2().sendBytes(new byte[] {(byte) i});
                  }
                }
                return null;
              });
      MemorySegment into = arena.allocate(4 << 20, 64);
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < sizes.length; i++) {
          int size = sizes[i];
          byte[] want = TestSupport.payload(round * 100 + i, size);
          switch (round) {
            case 0 -> assertArrayEquals(want, pipe.conn1().recvBytes(), "size " + sizes[i]);
            case 1 -> {
              assertEquals(sizes[i], pipe.conn1().recvBytesInto(into));
              assertEquals(
                  -1L,
                  MemorySegment.mismatch(
                      into, 0, sizes[i], MemorySegment.ofArray(want), 0, sizes[i]));
            }
            default -> {
              BufferTooShortException e =
                  assertThrows(
                      BufferTooShortException.class,
                      () -> pipe.conn1().recvBytesInto(new byte[size - 1]));
              assertArrayEquals(want, e.message(), "size " + sizes[i]);
            }
          }
          assertArrayEquals(new byte[] {(byte) i}, pipe.conn1().recvBytes(), "in order after it");
        }
      }
      TestSupport.await(sender);
    }
  }

  /**
   * Sizes around where copies go through libc's {@code memcpy} (4 KiB, {@code
   * Ring.NATIVE_COPY_MIN}) and where messages go as chunks (64 KiB, {@code ShmEnd.PIECE}), from and
   * into arrays at an offset and segments, through a ring that they wrap around every few messages
   * and a ring of a megabyte: every byte arrives where it belongs and nothing next to it is
   * touched.
   */
  @Test
  void sizesAroundTheCopyAndChunkThresholdsArriveExactly() throws Exception {
    int[] sizes = {
      4095, 4096, 4097, 8192, (64 << 10) - 1, 64 << 10, (64 << 10) + 1, (128 << 10) + 3, 12345
    };
    for (long capacity : new long[] {16 << 10, 1 << 20}) {
      try (Pipe pipe = Pipe.builder().sharedMemory(capacity).open();
          Arena arena = Arena.ofConfined()) {
        CompletableFuture<Object> sender =
            async(
                () -> {
                  for (int round = 0; round < 4; round++) {
                    for (int i = 0; i < sizes.length; i++) {
                      byte[] m = TestSupport.payload(round * 100 + i, sizes[i]);
                      if (round % 2 == 0) {
                        byte[] framed = new byte[m.length + 13];
                        System.arraycopy(m, 0, framed, 7, m.length);
                        pipe.conn2().sendBytes(framed, 7, m.length);
                      } else {
                        try (Arena a = Arena.ofConfined()) {
                          pipe.conn2()
                              .sendBytes(
                                  a.allocate(m.length + 3)
                                      .asSlice(3)
                                      .copyFrom(MemorySegment.ofArray(m)));
                        }
                      }
                    }
                  }
                  return null;
                });
        for (int round = 0; round < 4; round++) {
          for (int i = 0; i < sizes.length; i++) {
            int size = sizes[i];
            byte[] want = TestSupport.payload(round * 100 + i, size);
            String what = "size " + size + ", ring " + capacity + ", round " + round;
            if (round < 2) {
              byte[] into = new byte[size + 20];
              java.util.Arrays.fill(into, (byte) 0x5a);
              assertEquals(size, pipe.conn1().recvBytesInto(into, 9), what);
              assertArrayEquals(want, java.util.Arrays.copyOfRange(into, 9, 9 + size), what);
              for (int k : new int[] {0, 8, 9 + size, size + 19}) {
                assertEquals((byte) 0x5a, into[k], what + ": byte " + k + " untouched");
              }
            } else {
              MemorySegment into = arena.allocate(size + 5).fill((byte) 0x5a);
              assertEquals(size, pipe.conn1().recvBytesInto(into.asSlice(1)), what);
              assertEquals(
                  -1L,
                  MemorySegment.mismatch(into, 1, 1 + size, MemorySegment.ofArray(want), 0, size),
                  what);
              assertEquals((byte) 0x5a, into.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
              assertEquals(
                  (byte) 0x5a, into.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1 + size), what);
            }
          }
        }
        TestSupport.await(sender);
      }
    }
  }

  @Test
  void aMessageOfManyRingsFillsAnArrayAndABuffer() throws Exception {
    try (Pipe pipe = Pipe.builder().duplex(false).sharedMemory(4096).open()) {
      byte[] big = TestSupport.payload(7, 3 << 20);
      CompletableFuture<Object> sender =
          async(
              () -> {
                pipe.conn2().sendBytes(big);
                pipe.conn2().sendBytes(java.nio.ByteBuffer.wrap(big));
                pipe.conn2().send(big);
                return null;
              });
      assertArrayEquals(big, pipe.conn1().recvBytes());
      java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(big.length + 10);
      assertEquals(big.length, pipe.conn1().recvBytesInto(direct));
      byte[] back = new byte[big.length];
      direct.flip().get(back);
      assertArrayEquals(big, back);
      assertArrayEquals(big, (byte[]) pipe.conn1().recv());
      TestSupport.await(sender);
    }
  }
}
