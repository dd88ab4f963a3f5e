package io.jpipe.cli;

import java.lang.reflect.Array;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** How {@code jpipe serve} prints what it receives. */
final class Repr {
  private Repr() {}

  /**
   * A byte message as text when it is valid UTF-8 (and has no control characters other than tab),
   * otherwise as hex.
   *
   * @param bytes the message
   * @return one line
   */
  static String bytes(byte[] bytes) {
    try {
      String text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
      if (text.chars().noneMatch(c -> c < 0x20 && c != '\t' || c == 0x7f)) {
        return text;
      }
    } catch (CharacterCodingException e) {
      // not text
    }
    return "0x" + HexFormat.of().formatHex(bytes);
  }

  /**
   * A Python-like repr of a decoded object: None, True, 'str', b'bytes', [list], (tuple,), {dict},
   * {set}; other Java objects by their toString.
   *
   * @param o the object
   * @return one line
   */
  static String object(Object o) {
    StringBuilder b = new StringBuilder();
    append(b, o);
    return b.toString();
  }

  private static void append(StringBuilder b, Object o) {
    switch (o) {
      case null -> b.append("None");
      case Boolean x -> b.append(x ? "True" : "False");
      case Integer x -> b.append(x);
      case Long x -> b.append(x);
      case Short x -> b.append(x);
      case Byte x -> b.append(x);
      case BigInteger x -> b.append(x);
      case Double x -> b.append(floatRepr(x));
      case Float x -> b.append(floatRepr(x.doubleValue()));
      case String s -> b.append(str(s));
      case byte[] bytes -> b.append(bytesRepr(bytes));
      case Map<?, ?> m -> {
        b.append('{');
        Iterator<? extends Map.Entry<?, ?>> it = m.entrySet().iterator();
        while (it.hasNext()) {
          Map.Entry<?, ?> e = it.next();
          append(b, e.getKey());
          b.append(": ");
          append(b, e.getValue());
          if (it.hasNext()) {
            b.append(", ");
          }
        }
        b.append('}');
      }
      case Set<?> s -> {
        if (s.isEmpty()) {
          b.append("set()");
        } else {
          join(b, s, "{", "}");
        }
      }
      case List<?> l -> join(b, l, "[", "]");
      case Collection<?> c -> join(b, c, "[", "]");
      case Object[] a -> {
        join(b, List.of(a), "(", a.length == 1 ? ",)" : ")");
      }
      default -> {
        if (o.getClass().isArray()) {
          Object[] boxed = new Object[Array.getLength(o)];
          for (int i = 0; i < boxed.length; i++) {
            boxed[i] = Array.get(o, i);
          }
          join(b, List.of(boxed), "[", "]");
        } else {
          b.append(o);
        }
      }
    }
  }

  private static void join(StringBuilder b, Collection<?> items, String open, String close) {
    b.append(open);
    boolean first = true;
    for (Object x : items) {
      if (!first) {
        b.append(", ");
      }
      first = false;
      append(b, x);
    }
    b.append(close);
  }

  /** Python's float repr for the common cases: 2.5, 1.0, 1e+100, inf, nan. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) {
      return "nan";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    String s = Double.toString(d); // shortest round-trip digits, as Python's repr
    int e = s.indexOf('E');
    if (e < 0) {
      return s;
    }
    String mantissa = s.substring(0, e);
    int exp = Integer.parseInt(s.substring(e + 1));
    if (mantissa.endsWith(".0")) {
      mantissa = mantissa.substring(0, mantissa.length() - 2);
    }
    if (exp >= -4 && exp < 16) {
      String plain = new java.math.BigDecimal(s).stripTrailingZeros().toPlainString();
      return plain.indexOf('.') >= 0 ? plain : plain + ".0";
    }
    return mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
  }

  private static String str(String s) {
    char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    StringBuilder b = new StringBuilder().append(q);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c == q) {
            b.append('\\').append(c);
          } else if (c < 0x20 || c == 0x7f) {
            b.append(String.format("\\x%02x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append(q).toString();
  }

  private static String bytesRepr(byte[] bytes) {
    StringBuilder b = new StringBuilder("b'");
    for (byte x : bytes) {
      int c = x & 0xff;
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\'' -> b.append("\\'");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20 || c >= 0x7f) {
            b.append(String.format("\\x%02x", c));
          } else {
            b.append((char) c);
          }
        }
      }
    }
    return b.append('\'').toString();
  }
}
