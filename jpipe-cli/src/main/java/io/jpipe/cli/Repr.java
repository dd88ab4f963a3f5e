package io.jpipe.cli;

import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * How {@code jpipe serve} prints what it receives: Python's {@code repr}, bounded like Python's
 * {@code reprlib}, so that no message, however large, deep, shared or self-referencing, can make
 * printing slow, huge or throw.
 *
 * <p>The limits, per message:
 *
 * <ul>
 *   <li>a line of at most about {@value #MAX_LINE} characters: past that, the remaining elements
 *       are left out ({@code ...}) and the line ends with {@code (cut at 8192 chars)}; one leaf
 *       printed last and the closing brackets may add up to {@value #MAX_LEAF} + 2 × {@value
 *       #MAX_DEPTH} characters;
 *   <li>containers nested deeper than {@value #MAX_DEPTH} print as {@code [...]}, {@code {...}} or
 *       {@code (...)}, as reprlib's {@code maxlevel} does;
 *   <li>a container shows its first {@value #MAX_ITEMS} elements, then {@code ... (N items)};
 *   <li>strings and bytes print their head and tail, about {@value #MAX_LEAF} characters of repr in
 *       all, with {@code (N chars)} or {@code (N bytes)} after the closing quote;
 *   <li>an int of up to {@value #MAX_EXACT_DIGITS} digits (CPython's own limit for {@code
 *       str(int)}) prints whole when it has at most {@value #MAX_INT_DIGITS} digits, else its first
 *       and last digits and {@code (N digits)}; a larger one prints as {@code <int of B bits, about
 *       D digits>}, since converting it to decimal would take seconds;
 *   <li>a container that contains itself prints as {@code [...]} (or {@code {...}}, {@code (...)})
 *       where it recurs, as Python's {@code repr} does.
 * </ul>
 *
 * <p>Printing recurses at most {@value #MAX_DEPTH} levels and visits at most about {@value
 * #MAX_LINE} elements, so its stack and time are bounded whatever the message. Objects of other
 * classes print by their {@code toString()} (records field by field), cut to {@value #MAX_LEAF}
 * characters.
 */
final class Repr {
  /** The characters of repr one message prints before the rest is left out. */
  static final int MAX_LINE = 8192;

  /** The nesting depth printed; deeper containers print as {@code [...]}. */
  static final int MAX_DEPTH = 16;

  /** The elements (or entries) printed of one container. */
  static final int MAX_ITEMS = 100;

  /** About the most characters one string, bytes value or other leaf prints. */
  static final int MAX_LEAF = 1000;

  /** Ints with more digits print their first and last digits only. */
  static final int MAX_INT_DIGITS = 100;

  /** Ints with more digits are not converted to decimal at all (CPython's limit, 4,300). */
  static final int MAX_EXACT_DIGITS = 4300;

  /** Bytes shown of a byte message (as text or hex) before {@code ... (N bytes)}. */
  static final int MAX_BYTES_SHOWN = 4096;

  private final StringBuilder b = new StringBuilder();
  private final Set<Object> path = Collections.newSetFromMap(new IdentityHashMap<>());
  private boolean cut;
  private boolean cutMarked;

  private Repr() {}

  /**
   * A byte message as text when it is valid UTF-8 without control or other unprintable characters
   * (tab allowed), otherwise as hex ({@code 0x...}); past {@value #MAX_BYTES_SHOWN} bytes (text) or
   * half as many (hex), the rest is left out and {@code ... (N bytes)} says how many there were.
   *
   * @param bytes the message
   * @return one line
   */
  static String bytes(byte[] bytes) {
    int n = bytes.length;
    int shown = Math.min(n, MAX_BYTES_SHOWN);
    String suffix = shown < n ? "... (" + n + " bytes)" : "";
    if (shown < n) {
      shown = utf8Boundary(bytes, shown); // do not count a character cut in two as binary
    }
    try {
      String text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes, 0, shown))
              .toString();
      if (text.codePoints().allMatch(c -> c == '\t' || printable(c))) {
        return text + suffix;
      }
    } catch (CharacterCodingException e) {
      // not text
    }
    int hex = Math.min(n, MAX_BYTES_SHOWN / 2);
    return "0x"
        + HexFormat.of().formatHex(bytes, 0, hex)
        + (hex < n ? "... (" + n + " bytes)" : "");
  }

  /** The largest length at most {@code end} that does not cut a UTF-8 sequence in two. */
  private static int utf8Boundary(byte[] bytes, int end) {
    for (int back = 0; back < 4 && end - back > 0; back++) {
      int c = bytes[end - back] & 0xff;
      if ((c & 0xc0) != 0x80) {
        return end - back; // bytes[end - back] starts a character: cut before it
      }
    }
    return end;
  }

  /**
   * A Python-like repr of a decoded object: None, True, 'str', b'bytes', [list], (tuple,), {dict},
   * {set}; a map entry as a (key, value) tuple; records as {@code Name(field=value)}; other Java
   * objects by their toString. Bounded as the class comment says; never throws for any object graph
   * built of the types above.
   *
   * @param o the object
   * @return one line
   */
  static String object(Object o) {
    Repr r = new Repr();
    r.append(o, MAX_DEPTH);
    if (r.cut) {
      r.b.append(" (cut at ").append(MAX_LINE).append(" chars)");
    }
    return r.b.toString();
  }

  private boolean full() {
    if (b.length() >= MAX_LINE) {
      cut = true;
    }
    return cut;
  }

  private void append(Object o, int level) {
    switch (o) {
      case null -> b.append("None");
      case Boolean x -> b.append(x ? "True" : "False");
      case Integer x -> b.append(x);
      case Long x -> b.append(x);
      case Short x -> b.append(x);
      case Byte x -> b.append(x);
      case BigInteger x -> bigInteger(x);
      case Double x -> b.append(floatRepr(x));
      case Float x -> b.append(floatRepr(x.doubleValue()));
      case String s -> str(s);
      case Character c -> str(c.toString());
      case byte[] bytes -> bytesRepr(bytes);
      case Map<?, ?> m -> map(m, level);
      case Set<?> s -> {
        if (s.isEmpty()) {
          b.append("set()");
        } else {
          items(s, s.size(), s.iterator(), "{", "}", "{...}", level);
        }
      }
      case Collection<?> c -> items(c, c.size(), c.iterator(), "[", "]", "[...]", level);
      case Object[] a -> {
        String close = a.length == 1 ? ",)" : ")";
        items(a, a.length, arrayIterator(a), "(", close, "(...)", level);
      }
      case Map.Entry<?, ?> e ->
          items(e, 2, Arrays.asList(e.getKey(), e.getValue()).iterator(), "(", ")", "(...)", level);
      case Optional<?> opt -> {
        b.append("Optional(");
        if (opt.isPresent()) {
          if (level <= 0) {
            b.append("...");
          } else {
            append(opt.get(), level - 1);
          }
        }
        b.append(')');
      }
      case Enum<?> e ->
          b.append(e.getDeclaringClass().getSimpleName()).append('.').append(e.name());
      case BigDecimal d -> {
        if (d.unscaledValue().bitLength() > bitsOfDigits(MAX_EXACT_DIGITS)) {
          b.append("<decimal of ")
              .append(d.unscaledValue().bitLength())
              .append(" bits, scale ")
              .append(d.scale())
              .append('>');
        } else {
          leaf(d.toString());
        }
      }
      case Record r -> record(r, level);
      default -> {
        if (o.getClass().isArray()) {
          int n = Array.getLength(o);
          items(o, n, arrayIterator(o), "[", "]", "[...]", level);
        } else {
          other(o);
        }
      }
    }
  }

  private static Iterator<Object> arrayIterator(Object array) {
    int n = Array.getLength(array);
    return new Iterator<>() {
      private int i;

      @Override
      public boolean hasNext() {
        return i < n;
      }

      @Override
      public Object next() {
        return Array.get(array, i++);
      }
    };
  }

  /** A container: at most MAX_ITEMS elements, nothing below MAX_DEPTH, self-reference as [...]. */
  private void items(
      Object container,
      int size,
      Iterator<?> it,
      String open,
      String close,
      String elided,
      int level) {
    if (size == 0) {
      b.append(open).append(close);
      return;
    }
    if (level <= 0 || !path.add(container)) {
      b.append(elided);
      return;
    }
    try {
      b.append(open);
      int shown = 0;
      while (it.hasNext()) {
        if (elide(shown, size)) {
          break;
        }
        append(it.next(), level - 1);
        shown++;
      }
      b.append(close);
    } finally {
      path.remove(container);
    }
  }

  /**
   * Before the next element of a container: true (after writing why) if the elements stop here,
   * else writes the separator. Past the line's budget, only the innermost container says {@code
   * ...}; the others just close.
   */
  private boolean elide(int shown, int size) {
    if (shown == MAX_ITEMS) {
      b.append(", ... (").append(size).append(" items)");
      return true;
    }
    if (full()) {
      if (!cutMarked) {
        b.append(shown > 0 ? ", ..." : "...");
        cutMarked = true;
      }
      return true;
    }
    if (shown > 0) {
      b.append(", ");
    }
    return false;
  }

  private void map(Map<?, ?> m, int level) {
    int size = m.size();
    if (size == 0) {
      b.append("{}");
      return;
    }
    if (level <= 0 || !path.add(m)) {
      b.append("{...}");
      return;
    }
    try {
      b.append('{');
      int shown = 0;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (elide(shown, size)) {
          break;
        }
        append(e.getKey(), level - 1);
        b.append(": ");
        append(e.getValue(), level - 1);
        shown++;
      }
      b.append('}');
    } finally {
      path.remove(m);
    }
  }

  private void record(Record r, int level) {
    RecordComponent[] components = r.getClass().getRecordComponents();
    b.append(r.getClass().getSimpleName());
    if (level <= 0 || !path.add(r)) {
      b.append("(...)");
      return;
    }
    try {
      b.append('(');
      for (int i = 0; i < components.length; i++) {
        if (elide(i, components.length)) {
          break;
        }
        b.append(components[i].getName()).append('=');
        Object value;
        try {
          Method accessor = components[i].getAccessor();
          accessor.setAccessible(true);
          value = accessor.invoke(r);
        } catch (ReflectiveOperationException | RuntimeException e) {
          b.append("<unreadable>");
          continue;
        }
        append(value, level - 1);
      }
      b.append(')');
    } finally {
      path.remove(r);
    }
  }

  /** Any other object: its toString, cut short; a toString that fails prints the class. */
  private void other(Object o) {
    String s;
    try {
      s = String.valueOf(o);
    } catch (RuntimeException | StackOverflowError e) {
      b.append('<').append(o.getClass().getName()).append(" object>");
      return;
    }
    leaf(s);
  }

  private void leaf(String s) {
    if (s.length() <= MAX_LEAF) {
      b.append(s);
    } else {
      b.append(s, 0, MAX_LEAF).append("... (").append(s.length()).append(" chars)");
    }
  }

  /** The bits an int of {@code digits} decimal digits may have. */
  private static int bitsOfDigits(int digits) {
    return (int) Math.ceil(digits * (Math.log(10) / Math.log(2)));
  }

  private void bigInteger(BigInteger x) {
    int bits = x.abs().bitLength(); // of the magnitude (-2^n has a bitLength of n)
    if (bits > bitsOfDigits(MAX_EXACT_DIGITS)) {
      long about = (long) Math.floor((bits - 1) * Math.log10(2)) + 1;
      b.append(x.signum() < 0 ? "<negative int of " : "<int of ")
          .append(bits)
          .append(" bits, about ")
          .append(about)
          .append(" digits>");
      return;
    }
    String s = x.toString();
    int sign = x.signum() < 0 ? 1 : 0;
    int digits = s.length() - sign;
    if (digits <= MAX_INT_DIGITS) {
      b.append(s);
    } else {
      int head = MAX_INT_DIGITS / 2;
      int tail = MAX_INT_DIGITS - head;
      b.append(s, 0, sign + head)
          .append("...")
          .append(s, s.length() - tail, s.length())
          .append(" (")
          .append(digits)
          .append(" digits)");
    }
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
      String plain = new BigDecimal(s).stripTrailingZeros().toPlainString();
      return plain.indexOf('.') >= 0 ? plain : plain + ".0";
    }
    return mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
  }

  /**
   * Whether Python's {@code str.isprintable()} holds for this code point: not a control, format,
   * surrogate, private-use, unassigned or separator character (the space excepted).
   */
  static boolean printable(int c) {
    if (c == ' ') {
      return true;
    }
    return switch (Character.getType(c)) {
      case Character.CONTROL,
          Character.FORMAT,
          Character.SURROGATE,
          Character.PRIVATE_USE,
          Character.UNASSIGNED,
          Character.LINE_SEPARATOR,
          Character.PARAGRAPH_SEPARATOR,
          Character.SPACE_SEPARATOR ->
          false;
      default -> true;
    };
  }

  /** Python's str repr, with its quote choice and escapes; long strings keep head and tail. */
  private void str(String s) {
    char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    b.append(q);
    int budget = MAX_LEAF - 2;
    int start = b.length();
    int i = 0;
    int n = s.length();
    while (i < n && b.length() - start < budget * 2 / 3) {
      int c = s.codePointAt(i);
      escapeChar(c, q);
      i += Character.charCount(c);
    }
    if (i < n) {
      // the tail: walk back from the end while its repr fits the rest of the budget
      StringBuilder tail = new StringBuilder();
      int j = n;
      int tailBudget = budget / 3;
      while (j > i) {
        int c = s.codePointBefore(j);
        StringBuilder one = new StringBuilder();
        escapeCharTo(one, c, q);
        if (tail.length() + one.length() > tailBudget) {
          break;
        }
        tail.insert(0, one);
        j -= Character.charCount(c);
      }
      if (j > i) {
        b.append("...").append(tail).append(q);
        b.append(" (").append(s.codePointCount(0, n)).append(" chars)");
        return;
      }
      b.append(tail); // all of it fit after all
    }
    b.append(q);
  }

  private void escapeChar(int c, char q) {
    escapeCharTo(b, c, q);
  }

  private static void escapeCharTo(StringBuilder to, int c, char q) {
    switch (c) {
      case '\\' -> to.append("\\\\");
      case '\n' -> to.append("\\n");
      case '\r' -> to.append("\\r");
      case '\t' -> to.append("\\t");
      default -> {
        if (c == q) {
          to.append('\\').append((char) c);
        } else if (printable(c)) {
          to.appendCodePoint(c);
        } else if (c < 0x100) {
          to.append(String.format("\\x%02x", c));
        } else if (c < 0x10000) {
          to.append(String.format("\\u%04x", c));
        } else {
          to.append(String.format("\\U%08x", c));
        }
      }
    }
  }

  /** Python's bytes repr; long values keep head and tail. */
  private void bytesRepr(byte[] bytes) {
    b.append("b'");
    int budget = MAX_LEAF - 3;
    int start = b.length();
    int i = 0;
    int n = bytes.length;
    while (i < n && b.length() - start < budget * 2 / 3) {
      escapeByte(b, bytes[i++]);
    }
    if (i < n) {
      StringBuilder tail = new StringBuilder();
      int j = n;
      int tailBudget = budget / 3;
      while (j > i) {
        StringBuilder one = new StringBuilder(4);
        escapeByte(one, bytes[j - 1]);
        if (tail.length() + one.length() > tailBudget) {
          break;
        }
        tail.insert(0, one);
        j--;
      }
      if (j > i) {
        b.append("...").append(tail).append("' (").append(n).append(" bytes)");
        return;
      }
      b.append(tail);
    }
    b.append('\'');
  }

  private static void escapeByte(StringBuilder to, byte x) {
    int c = x & 0xff;
    switch (c) {
      case '\\' -> to.append("\\\\");
      case '\'' -> to.append("\\'");
      case '\n' -> to.append("\\n");
      case '\r' -> to.append("\\r");
      case '\t' -> to.append("\\t");
      default -> {
        if (c < 0x20 || c >= 0x7f) {
          to.append(String.format("\\x%02x", c));
        } else {
          to.append((char) c);
        }
      }
    }
  }
}
