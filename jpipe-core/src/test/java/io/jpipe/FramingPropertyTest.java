package io.jpipe;

import static io.jpipe.TestSupport.async;
import static io.jpipe.TestSupport.concat;
import static io.jpipe.TestSupport.header;
import static io.jpipe.TestSupport.longHeader;
import static io.jpipe.TestSupport.payload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Randomised framing properties, each run for many seeds (the seed is in the test name, so a
 * failure can be replayed): messages of random sizes, always including the edges 0, 16383, 16384,
 * 16385 and 1 MiB, arrive whole and in order whatever the split points of the byte stream; and what
 * jpipe writes is byte for byte CPython's framing.
 */
class FramingPropertyTest {
  static final int[] EDGES = {0, 1, 4092, 4096, 16383, 16384, 16385, 65536, 1 << 20};

  static LongStream seeds() {
    return LongStream.range(1, 25);
  }

  static List<byte[]> messages(Random rnd) {
    List<byte[]> msgs = new ArrayList<>();
    for (int edge : EDGES) {
      msgs.add(payload(rnd.nextInt(), edge));
    }
    int extra = 5 + rnd.nextInt(20);
    for (int i = 0; i < extra; i++) {
      int size =
          switch (rnd.nextInt(4)) {
            case 0 -> rnd.nextInt(16);
            case 1 -> rnd.nextInt(5000);
            case 2 -> 16380 + rnd.nextInt(10);
            default -> rnd.nextInt(300_000);
          };
      msgs.add(payload(rnd.nextInt(), size));
    }
    java.util.Collections.shuffle(msgs, rnd);
    return msgs;
  }

  /** Any split of the byte stream, any receive API: every message arrives whole, then EOF. */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void messagesSurviveAnySplitOfTheStream(long seed) throws Exception {
    Random rnd = new Random(seed);
    List<byte[]> msgs = messages(rnd);
    ByteArrayOutputStream stream = new ByteArrayOutputStream();
    for (byte[] m : msgs) {
      // Senders may use the long header form for any length; CPython accepts it.
      stream.writeBytes(rnd.nextInt(8) == 0 ? longHeader(m.length) : header(m.length));
      stream.writeBytes(m);
    }
    byte[] all = stream.toByteArray();
    boolean duplex = rnd.nextBoolean();
    try (Pipe p = Pipe.open(duplex);
        Arena arena = Arena.ofConfined()) {
      Connection r = p.conn1();
      Connection w = p.conn2();
      long writerSeed = rnd.nextLong();
      CompletableFuture<Object> writer =
          async(
              () -> {
                Random wr = new Random(writerSeed);
                int off = 0;
                while (off < all.length) {
                  int chunk =
                      Math.min(
                          all.length - off,
                          wr.nextBoolean() ? 1 + wr.nextInt(7) : 1 + wr.nextInt(70_000));
                  TestSupport.rawWrite(
                      w.fileno(), java.util.Arrays.copyOfRange(all, off, off + chunk));
                  off += chunk;
                  if (wr.nextInt(10) == 0) {
                    Thread.sleep(0, 200_000);
                  }
                }
                w.close();
                return null;
              });
      byte[] big = new byte[2 << 20];
      for (byte[] m : msgs) {
        byte[] got =
            switch (rnd.nextInt(5)) {
              case 0 -> r.recvBytes();
              case 1 -> r.recvBytes(m.length);
              case 2 -> {
                int off = rnd.nextInt(1000);
                int n = r.recvBytesInto(big, off);
                yield java.util.Arrays.copyOfRange(big, off, off + n);
              }
              case 3 -> r.recvBytes(arena).toArray(ValueLayout.JAVA_BYTE);
              default -> {
                ByteBuffer bb = ByteBuffer.allocateDirect(m.length + 10);
                int n = r.recvBytesInto(bb);
                byte[] out = new byte[n];
                bb.flip().get(out);
                yield out;
              }
            };
        assertArrayEquals(m, got, "message of " + m.length + " bytes, seed " + seed);
      }
      TestSupport.await(writer);
      assertThrows(EOFException.class, r::recvBytes);
    }
  }

  /** What jpipe writes, read back raw, is exactly CPython's framing of the same messages. */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void theWireFormatIsCPythons(long seed) throws Exception {
    Random rnd = new Random(seed);
    List<byte[]> msgs = messages(rnd);
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    for (byte[] m : msgs) {
      expected.writeBytes(concat(header(m.length), m));
    }
    boolean duplex = rnd.nextBoolean();
    try (Pipe p = Pipe.open(duplex)) {
      Connection r = p.conn1();
      Connection w = p.conn2();
      CompletableFuture<Object> writer =
          async(
              () -> {
                for (byte[] m : msgs) {
                  switch (rnd.nextInt(3)) {
                    case 0 -> w.sendBytes(m);
                    case 1 -> w.sendBytes(ByteBuffer.wrap(m));
                    default -> {
                      try (Arena a = Arena.ofConfined()) {
                        w.sendBytes(a.allocateFrom(ValueLayout.JAVA_BYTE, m));
                      }
                    }
                  }
                }
                w.close();
                return null;
              });
      byte[] raw = readAllRaw(r.fileno());
      TestSupport.await(writer);
      assertEquals(expected.size(), raw.length);
      assertArrayEquals(expected.toByteArray(), raw);
    }
  }

  private static byte[] readAllRaw(int fd) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    io.jpipe.internal.io.Scratch s = io.jpipe.internal.io.Scratch.get();
    java.lang.foreign.MemorySegment buf = Arena.ofAuto().allocate(65536);
    for (; ; ) {
      long n = io.jpipe.internal.posix.Libc.read(s.errno, fd, buf, buf.byteSize());
      if (n < 0) {
        throw new AssertionError("read errno " + io.jpipe.internal.posix.Native.errno(s.errno));
      }
      if (n == 0) {
        return out.toByteArray();
      }
      out.writeBytes(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
    }
  }
}
