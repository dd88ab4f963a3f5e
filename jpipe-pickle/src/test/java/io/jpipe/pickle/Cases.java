package io.jpipe.pickle;

import static io.jpipe.pickle.Values.dict;
import static io.jpipe.pickle.Values.list;
import static io.jpipe.pickle.Values.set;
import static io.jpipe.pickle.Values.tuple;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The type table of {@link PickleCodec}, as test cases: a Java value, the Python expression it must
 * equal in CPython (same types, recursively), and what Java gets back when decoding a pickle of
 * that Python value (which is also what decoding Java's own encoding gives).
 */
final class Cases {
  private Cases() {}

  /**
   * One row.
   *
   * @param python a Python expression, evaluated by the test's CPython
   * @param java the Java value to encode, if {@code encodes}
   * @param decoded the exact Java value a pickle of {@code python} decodes to
   * @param encodes whether the row is also checked from Java to Python
   */
  record Case(String python, Object java, Object decoded, boolean encodes) {
    @Override
    public String toString() {
      return python.length() > 60 ? python.substring(0, 60) + "..." : python;
    }
  }

  private static Case both(Object java, String python, Object decoded) {
    return new Case(python, java, decoded, true);
  }

  private static Case same(Object java, String python) {
    return new Case(python, java, java, true);
  }

  private static Case fromPython(String python, Object decoded) {
    return new Case(python, null, decoded, false);
  }

  /** Bytes 0..255. */
  static byte[] allByteValues() {
    byte[] b = new byte[256];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) i;
    }
    return b;
  }

  /** Lists nested {@code depth} deep around an empty list, as the test script's {@code nest}. */
  static List<Object> nest(int depth) {
    List<Object> x = new ArrayList<>();
    for (int i = 0; i < depth; i++) {
      x = list(x);
    }
    return x;
  }

  /** Every row. */
  static List<Case> all() {
    byte[] big = new byte[100_000];
    for (int i = 0; i < big.length; i++) {
      big[i] = (byte) (i % 250);
    }
    List<Object> strings = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      strings.add("s" + i); // 300 memoized strings: memo indices past 255 (LONG_BINPUT)
    }
    LinkedHashMap<Object, Object> ordered = dict("z", 1, "a", 2, "m", 3);
    TreeSet<String> sorted = new TreeSet<>(List.of("b", "a"));
    return List.of(
        // None and bool
        same(null, "None"),
        same(true, "True"),
        same(false, "False"),
        // int: Integer within 32 bits, Long within 64, BigInteger beyond
        same(0, "0"),
        same(1, "1"),
        same(-1, "-1"),
        same(255, "255"),
        same(256, "256"),
        same(65_535, "65535"),
        same(65_536, "65536"),
        same(Integer.MAX_VALUE, "2**31 - 1"),
        same(Integer.MIN_VALUE, "-2**31"),
        same(2_147_483_648L, "2**31"),
        same(-2_147_483_649L, "-2**31 - 1"),
        same(Long.MAX_VALUE, "2**63 - 1"),
        same(Long.MIN_VALUE, "-2**63"),
        same(BigInteger.TWO.pow(63), "2**63"),
        same(BigInteger.TEN.pow(40).negate(), "-10**40"),
        same(BigInteger.TWO.pow(2100), "2**2100"), // more than 255 bytes: LONG4
        both(5L, "5", 5),
        both(BigInteger.valueOf(-7), "-7", -7),
        both((short) -300, "-300", -300),
        both((byte) -7, "-7", -7),
        // float
        same(1.5, "1.5"),
        same(-0.0, "-0.0"),
        same(Double.POSITIVE_INFINITY, "float('inf')"),
        same(Double.NEGATIVE_INFINITY, "float('-inf')"),
        same(Double.NaN, "float('nan')"),
        same(Double.MIN_VALUE, "5e-324"),
        same(Double.MAX_VALUE, "1.7976931348623157e+308"),
        both(0.1f, "0.10000000149011612", 0.10000000149011612),
        // str
        same("", "''"),
        same("héllo wörld", "'héllo wörld'"),
        same("日本語", "'日本語'"),
        same("😀 non-BMP \uD83D\uDE00", "'\\U0001f600 non-BMP \\U0001f600'"),
        same("a\nb\\c\r\0\u001a'\"", "'a\\nb\\\\c\\r\\x00\\x1a\\'\"'"),
        same("y".repeat(256), "'y' * 256"),
        same("x".repeat(100_000), "'x' * 100000"),
        // bytes
        same(new byte[0], "b''"),
        same(new byte[] {0, (byte) 0xff, '.'}, "b'\\x00\\xff.'"),
        same(allByteValues(), "bytes(range(256))"),
        same(big, "bytes(range(250)) * 400"),
        fromPython("bytearray(b'ab')", "ab".getBytes(StandardCharsets.US_ASCII)),
        fromPython("bytearray()", new byte[0]),
        // list
        same(list(), "[]"),
        same(list(1, list(2, list(3, list()))), "[1, [2, [3, []]]]"),
        same(
            list(null, true, 1, 2.5, "x", new byte[] {'y'}, tuple(1), dict("k", "v"), set(3)),
            "[None, True, 1, 2.5, 'x', b'y', (1,), {'k': 'v'}, {3}]"),
        both(List.of("a", "b"), "['a', 'b']", list("a", "b")),
        both(new ArrayDeque<>(List.of(1, 2)), "[1, 2]", list(1, 2)),
        same(strings, "['s%d' % i for i in range(300)]"),
        same(nest(200), "nest(200)"),
        // tuple
        same(tuple(), "()"),
        same(tuple(1), "(1,)"),
        same(tuple(1, "a"), "(1, 'a')"),
        same(tuple(1, 2, 3), "(1, 2, 3)"),
        same(tuple(1, 2, 3, 4), "(1, 2, 3, 4)"),
        same(tuple(tuple(), list()), "((), [])"),
        both(new String[] {"a", "b"}, "('a', 'b')", tuple("a", "b")),
        // dict
        same(dict(), "{}"),
        same(ordered, "{'z': 1, 'a': 2, 'm': 3}"),
        same(dict(5, "five", -1, null, 2.5, true), "{5: 'five', -1: None, 2.5: True}"),
        same(dict(tuple(1, 2), "t"), "{(1, 2): 't'}"),
        same(dict("a", dict("b", list(1))), "{'a': {'b': [1]}}"),
        both(Map.of("k", 1), "{'k': 1}", dict("k", 1)),
        // set and frozenset
        same(set(), "set()"),
        same(set(1, 2, 3), "{1, 2, 3}"),
        same(set("a", tuple(1, 2)), "{'a', (1, 2)}"),
        both(Set.of(true), "{True}", set(true)),
        both(sorted, "{'a', 'b'}", set("a", "b")),
        fromPython("frozenset({1, 2})", set(1, 2)),
        fromPython("frozenset()", set()),
        fromPython("[frozenset({'a'}), {frozenset()}]", list(set("a"), set(set()))));
  }
}
