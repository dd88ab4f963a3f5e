package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Printing is bounded like Python's reprlib: no message, however long, deep, wide, shared or
 * self-referencing, prints more than about {@link Repr#MAX_LINE} characters, takes long, or throws.
 */
class ReprBoundsTest {
  /** The most one message may print: the line budget, one leaf past it, the closing brackets. */
  private static final int BOUND = Repr.MAX_LINE + Repr.MAX_LEAF + 2 * Repr.MAX_DEPTH + 64;

  /** Prints on a virtual thread (a small stack) and checks the bounds. */
  private static String bounded(Object o) throws Exception {
    long start = System.nanoTime();
    String s =
        CompletableFuture.supplyAsync(() -> Repr.object(o), r -> Thread.ofVirtual().start(r))
            .get(60, TimeUnit.SECONDS);
    double ms = (System.nanoTime() - start) / 1e6;
    assertTrue(s.length() <= BOUND, "printed " + s.length() + " chars");
    assertTrue(ms < 5_000, "printing took " + ms + " ms");
    return s;
  }

  @Test
  void selfReferencesPrintAsPythonDoes() throws Exception {
    List<Object> l = new ArrayList<>();
    l.add(1);
    l.add(l);
    assertEquals("[1, [...]]", bounded(l));
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("me", d);
    d.put("list", l);
    assertEquals("{'me': {...}, 'list': [1, [...]]}", bounded(d));
    Object[] tuple = {l, null};
    tuple[1] = Arrays.asList(tuple); // a tuple holding a list holding the tuple's elements
    assertEquals("([1, [...]], [[1, [...]], [...]])", bounded(tuple));
  }

  @Test
  void deepNestingIsCutAtMaxDepth() throws Exception {
    List<Object> deep = new ArrayList<>();
    List<Object> inner = deep;
    for (int i = 0; i < 100_000; i++) {
      List<Object> next = new ArrayList<>();
      inner.add(next);
      inner = next;
    }
    String expected = "[".repeat(Repr.MAX_DEPTH) + "[...]" + "]".repeat(Repr.MAX_DEPTH);
    assertEquals(expected, bounded(deep));
    Map<String, Object> deepMap = new HashMap<>();
    Map<String, Object> m = deepMap;
    for (int i = 0; i < 100_000; i++) {
      Map<String, Object> next = new HashMap<>();
      m.put("k", next);
      m = next;
    }
    assertTrue(bounded(deepMap).contains("{'k': {...}}"));
  }

  @Test
  void exponentialSharingPrintsInBoundedTimeAndSize() throws Exception {
    Object level = "leaf";
    for (int i = 0; i < 30; i++) {
      level = List.of(level, level); // 2^30 leaves
    }
    String s = bounded(level);
    assertTrue(s.endsWith(" (cut at " + Repr.MAX_LINE + " chars)"), s.substring(s.length() - 80));
    assertTrue(s.length() >= Repr.MAX_LINE, "uses its budget: " + s.length());
    Object wide = List.of();
    for (int i = 0; i < 30; i++) {
      Object[] row = new Object[50];
      Arrays.fill(row, wide);
      wide = Arrays.asList(row); // 50^30 leaves
    }
    bounded(wide);
  }

  @Test
  void hugeContainersPrintTheirFirstElementsAndTheirSize() throws Exception {
    List<Integer> million = new ArrayList<>();
    for (int i = 0; i < 1_000_000; i++) {
      million.add(i);
    }
    String s = bounded(million);
    assertTrue(s.startsWith("[0, 1, 2, "), s);
    assertTrue(s.endsWith(", 98, 99, ... (1000000 items)]"), s);
    Map<Integer, Integer> map = new LinkedHashMap<>();
    for (int i = 0; i < 500; i++) {
      map.put(i, i);
    }
    assertTrue(bounded(map).endsWith(", 99: 99, ... (500 items)}"));
    assertTrue(bounded(new long[50_000_000]).endsWith(", 0, ... (50000000 items)]"));
    assertEquals("[1, 2]", bounded(new int[] {1, 2}));
  }

  @Test
  void longStringsAndBytesKeepHeadAndTailAndSayTheirSize() throws Exception {
    String s = bounded("a".repeat(600) + "b".repeat(1_000_000) + "z".repeat(300));
    assertTrue(s.startsWith("'aaaa"), s);
    assertTrue(s.endsWith("zzz' (1000900 chars)"), s);
    assertTrue(s.length() < Repr.MAX_LEAF + 30, "" + s.length());
    byte[] bytes = new byte[2 << 20];
    bytes[bytes.length - 1] = 'z';
    String b = bounded(bytes);
    assertTrue(b.startsWith("b'\\x00\\x00"), b);
    assertTrue(b.endsWith("\\x00z' (2097152 bytes)"), b);
    assertTrue(b.length() < Repr.MAX_LEAF + 30, "" + b.length());
    String escapes = bounded("\u0001".repeat(100_000)); // each char prints as 4
    assertTrue(escapes.length() < Repr.MAX_LEAF + 30, "" + escapes.length());
    assertEquals("'short'", bounded("short"));
  }

  @Test
  void unprintableCharactersAreEscapedAsPythonEscapesThem() throws Exception {
    assertEquals("'a\\x1b[31mb'", bounded("a\u001b[31mb"));
    assertEquals("'\\x85\\u200b\\u2028\\u202e'", bounded("\u0085\u200b\u2028\u202e"));
    assertEquals("'\\U000e0001'", bounded(new String(Character.toChars(0xe0001))));
    assertEquals("'ünï 😀'", bounded("ünï 😀"));
    assertEquals("'\\ud800'", bounded("\ud800"));
  }

  @Test
  void hugeIntsPrintTruncatedWithTheirDigitCount() throws Exception {
    BigInteger thousand = BigInteger.TEN.pow(999).add(BigInteger.valueOf(7)); // 1000 digits
    String s = bounded(thousand);
    assertEquals("1" + "0".repeat(49) + "..." + "0".repeat(49) + "7 (1000 digits)", s);
    assertEquals(
        "-1" + "0".repeat(49) + "..." + "0".repeat(49) + "7 (1000 digits)",
        bounded(thousand.negate()));
    BigInteger huge = BigInteger.ONE.shiftLeft(16 * 1024 * 1024); // a 2 MiB int
    assertEquals("<int of 16777217 bits, about 5050446 digits>", bounded(huge));
    assertEquals("<negative int of 16777217 bits, about 5050446 digits>", bounded(huge.negate()));
    BigInteger limit = BigInteger.TEN.pow(Repr.MAX_EXACT_DIGITS).subtract(BigInteger.ONE);
    assertTrue(bounded(limit).endsWith(" (4300 digits)"));
    assertEquals("12345678901234567890", bounded(new BigInteger("12345678901234567890")));
  }

  /** A record, as the Java codec may decode one. */
  record Point(int x, List<Object> tags) {}

  /** An object whose toString fails. */
  static final class Broken {
    @Override
    public String toString() {
      throw new IllegalStateException("no");
    }
  }

  /** An object whose toString is long. */
  static final class Chatty {
    @Override
    public String toString() {
      return "c".repeat(100_000);
    }
  }

  @Test
  void otherObjectsPrintBoundedAndNeverThrow() throws Exception {
    List<Object> tags = new ArrayList<>();
    Point p = new Point(3, tags);
    tags.add(p);
    assertEquals("Point(x=3, tags=[Point(...)])", bounded(p));
    assertEquals("<" + Broken.class.getName() + " object>", bounded(new Broken()));
    assertTrue(bounded(new Chatty()).endsWith("... (100000 chars)"));
    assertEquals("Optional('x')", bounded(Optional.of("x")));
    Object shared = "leaf";
    for (int i = 0; i < 40; i++) {
      shared = new AbstractMap.SimpleEntry<>(shared, shared); // its toString would never end
    }
    assertTrue(bounded(shared).startsWith("(((("));
    assertEquals("TimeUnit.SECONDS", bounded(TimeUnit.SECONDS));
  }

  @Test
  void byteMessagesAreBoundedToo() {
    String text = Repr.bytes("é".repeat(10_000).getBytes(StandardCharsets.UTF_8));
    assertTrue(text.startsWith("éé"), text);
    assertTrue(text.endsWith("é... (20000 bytes)"), "cut between characters: " + text);
    assertTrue(text.length() < Repr.MAX_BYTES_SHOWN + 30);
    String hex = Repr.bytes(new byte[1 << 20]);
    assertTrue(hex.startsWith("0x0000"));
    assertTrue(hex.endsWith("00... (1048576 bytes)"));
    assertEquals(2 + Repr.MAX_BYTES_SHOWN + "... (1048576 bytes)".length(), hex.length());
    assertEquals("0x1b5b33316d", Repr.bytes("\u001b[31m".getBytes(StandardCharsets.UTF_8)));
    assertEquals("0xe280ae", Repr.bytes("\u202e".getBytes(StandardCharsets.UTF_8)), "bidi");
  }
}
