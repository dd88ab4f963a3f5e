package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What the scan of a Java-serialization stream costs, and that it does not refuse honest data. */
class ScanMemoryTest {
  /** A key whose hash (31 * x + y) puts about 32 keys of a square grid in each bin. */
  record Point(int x, int y) implements Serializable {}

  /**
   * A HashMap keyed by the points of a 1000 x 1000 grid (about 20 MB): bins of about 32 keys of a
   * class that is not Comparable, compared each with each by a cheap equals. ObjectInputStream
   * decodes it in about a second; so must the codec, at its default limits.
   */
  @Test
  void aGridOfRecordKeysDecodes() throws IOException {
    int side = 1000;
    Map<Point, Integer> grid = new HashMap<>();
    for (int x = 0; x < side; x++) {
      for (int y = 0; y < side; y++) {
        grid.put(new Point(x, y), x * side + y);
      }
    }
    JavaSerializationCodec codec = JavaSerializationCodec.withLimits(DecodeLimits.defaults());
    byte[] message = Forge.stream(grid);
    Object back = codec.decode(message, 0, message.length);
    assertEquals(grid, back);
  }

  /**
   * A HashSet of 9 million references to one Integer (45 MB): the scan charges the keys' collisions
   * as they arrive, so it refuses the message for maxWork early, in a heap of 256 MB, instead of
   * keeping every key and running out of memory (then refused as "memory").
   */
  @Test
  void manyReferencesToOneKeyAreRefusedForWorkInASmallHeap() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                "-Xmx256m",
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                ManyReferencesProbe.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals("refused: maxWork", out);
  }

  /**
   * Run in its own JVM, with a small heap, by {@link
   * #manyReferencesToOneKeyAreRefusedForWorkInASmallHeap}.
   */
  public static final class ManyReferencesProbe {
    private ManyReferencesProbe() {}

    public static void main(String[] args) throws IOException {
      byte[] message = manyReferences(9_000_000);
      try {
        JavaSerializationCodec.withLimits(DecodeLimits.defaults())
            .decode(message, 0, message.length);
        System.out.println("decoded");
      } catch (DecodeLimitException e) {
        System.out.println("refused: " + e.limit());
      }
    }
  }

  /**
   * A HashSet of {@code n} elements: an Integer, then {@code n - 1} back-references to it (5 bytes
   * each).
   */
  static byte[] manyReferences(int n) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      HashSet<Integer> one = new HashSet<>();
      one.add(12345);
      out.writeObject(one);
    }
    byte[] one = bytes.toByteArray();
    // HashSet's block data: capacity, load factor, size (1); the Integer; TC_ENDBLOCKDATA.
    int block = -1;
    for (int i = 0; i + 13 < one.length; i++) {
      if (one[i] == 0x77 && one[i + 1] == 12 && one[i + 10] == 0 && one[i + 13] == 1) {
        block = i;
      }
    }
    assertTrue(block > 0 && one[one.length - 1] == 0x78);
    byte[] message = new byte[one.length + 5 * (n - 1)];
    System.arraycopy(one, 0, message, 0, one.length - 1);
    message[block + 10] = (byte) (n >>> 24);
    message[block + 11] = (byte) (n >>> 16);
    message[block + 12] = (byte) (n >>> 8);
    message[block + 13] = (byte) n;
    int handle =
        0x7E0000 + 4; // HashSet's descriptor, the HashSet, Integer's, Number's, the Integer
    for (int i = 0, at = one.length - 1; i < n - 1; i++, at += 5) {
      message[at] = 0x71; // TC_REFERENCE
      message[at + 1] = (byte) (handle >>> 24);
      message[at + 2] = (byte) (handle >>> 16);
      message[at + 3] = (byte) (handle >>> 8);
      message[at + 4] = (byte) handle;
    }
    message[message.length - 1] = 0x78;
    return message;
  }
}
