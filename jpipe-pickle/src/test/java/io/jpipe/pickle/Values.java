package io.jpipe.pickle;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/** Builders for the Java side of Python values, and an exact (type by type) deep comparison. */
final class Values {
  private Values() {}

  /** A Python list as decoded: an ArrayList. */
  static ArrayList<Object> list(Object... items) {
    return new ArrayList<>(Arrays.asList(items));
  }

  /** A Python tuple as decoded: an Object[]. */
  static Object[] tuple(Object... items) {
    return items;
  }

  /** A Python set as decoded: a HashSet. */
  static HashSet<Object> set(Object... items) {
    return new HashSet<>(Arrays.asList(items));
  }

  /** A Python dict as decoded: a LinkedHashMap of alternating keys and values, in order. */
  static LinkedHashMap<Object, Object> dict(Object... keysAndValues) {
    LinkedHashMap<Object, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return m;
  }

  /** Bytes from hex digits, spaces allowed. */
  static byte[] hex(String digits) {
    return HexFormat.of().parseHex(digits.replace(" ", ""));
  }

  /** Encodes with {@code codec}. */
  static byte[] encode(PickleCodec codec, Object value) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    codec.encode(value, out);
    return out.toByteArray();
  }

  /** Decodes a whole array with {@code codec}. */
  static Object decode(PickleCodec codec, byte[] pickle) throws IOException {
    return codec.decode(pickle, 0, pickle.length);
  }

  /** Fails unless {@code actual} has exactly the classes and values of {@code expected}. */
  static void assertDeepEquals(Object expected, Object actual) {
    String difference = difference(expected, actual, "value");
    if (difference != null) {
      fail(difference);
    }
  }

  /** Where and how the two differ, or null. Lists, maps and arrays compare in order. */
  static String difference(Object expected, Object actual, String path) {
    if (expected == null || actual == null) {
      return expected == actual
          ? null
          : path + ": expected " + show(expected) + ", got " + show(actual);
    }
    if (expected.getClass() != actual.getClass()) {
      return path + ": expected " + show(expected) + ", got " + show(actual);
    }
    return switch (expected) {
      case byte[] e ->
          Arrays.equals(e, (byte[]) actual) ? null : path + ": bytes differ: " + show(actual);
      case Object[] e -> sequence(Arrays.asList(e), Arrays.asList((Object[]) actual), path);
      case List<?> e -> sequence(e, (List<?>) actual, path);
      case Map<?, ?> e -> {
        Map<?, ?> a = (Map<?, ?>) actual;
        if (e.size() != a.size()) {
          yield path + ": expected " + e.size() + " entries, got " + a.size();
        }
        Iterator<? extends Map.Entry<?, ?>> ai = a.entrySet().iterator();
        int i = 0;
        for (Map.Entry<?, ?> ee : e.entrySet()) {
          Map.Entry<?, ?> ae = ai.next();
          String d = difference(ee.getKey(), ae.getKey(), path + ".key#" + i);
          if (d == null) {
            d = difference(ee.getValue(), ae.getValue(), path + "[" + show(ee.getKey()) + "]");
          }
          if (d != null) {
            yield d;
          }
          i++;
        }
        yield null;
      }
      case Set<?> e -> {
        List<Object> left = new ArrayList<>((Set<?>) actual);
        for (Object x : e) {
          int at = indexOfMatch(left, x);
          if (at < 0) {
            yield path + ": " + show(x) + " is missing from " + show(actual);
          }
          left.remove(at);
        }
        yield left.isEmpty() ? null : path + ": unexpected elements " + show(left);
      }
      default ->
          Objects.deepEquals(expected, actual) // primitive arrays by content
              ? null
              : path + ": expected " + show(expected) + ", got " + show(actual);
    };
  }

  private static int indexOfMatch(List<Object> items, Object x) {
    for (int i = 0; i < items.size(); i++) {
      if (difference(x, items.get(i), "") == null) {
        return i;
      }
    }
    return -1;
  }

  private static String sequence(List<?> e, List<?> a, String path) {
    if (e.size() != a.size()) {
      return path + ": expected " + e.size() + " items, got " + a.size() + ": " + show(a);
    }
    for (int i = 0; i < e.size(); i++) {
      String d = difference(e.get(i), a.get(i), path + "[" + i + "]");
      if (d != null) {
        return d;
      }
    }
    return null;
  }

  /** A short description with the class, safe for self-containing values. */
  static String show(Object o) {
    if (o == null) {
      return "null";
    }
    String text =
        switch (o) {
          case byte[] b -> HexFormat.of().formatHex(b, 0, Math.min(b.length, 32));
          case Object[] a -> "(" + a.length + " items)";
          case java.util.Collection<?> c -> "(" + c.size() + " items)";
          case Map<?, ?> m -> "(" + m.size() + " entries)";
          default -> String.valueOf(o);
        };
    if (text.length() > 120) {
      text = text.substring(0, 120) + "...";
    }
    return o.getClass().getSimpleName() + " " + text;
  }
}
