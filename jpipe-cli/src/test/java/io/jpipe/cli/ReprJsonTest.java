package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** How serve prints messages, and how send reads JSON. */
class ReprJsonTest {
  @Test
  void bytesPrintAsTextOnlyWhenTheyAreCleanUtf8() {
    assertEquals("hello world", Repr.bytes("hello world".getBytes(StandardCharsets.UTF_8)));
    assertEquals("tab\tok", Repr.bytes("tab\tok".getBytes(StandardCharsets.UTF_8)));
    assertEquals("ünï", Repr.bytes("ünï".getBytes(StandardCharsets.UTF_8)));
    assertEquals("", Repr.bytes(new byte[0]));
    assertEquals("0xff00", Repr.bytes(new byte[] {-1, 0}));
    assertEquals("0x610a62", Repr.bytes("a\nb".getBytes(StandardCharsets.UTF_8)), "newline: hex");
  }

  @Test
  void objectsPrintAsPythonReprs() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("k", Arrays.asList(1, 2.5, null, true, false));
    m.put("t", new Object[] {1});
    assertEquals("{'k': [1, 2.5, None, True, False], 't': (1,)}", Repr.object(m));
    assertEquals("(1, 'two')", Repr.object(new Object[] {1, "two"}));
    assertEquals("()", Repr.object(new Object[0]));
    assertEquals("set()", Repr.object(Set.of()));
    assertEquals("{3}", Repr.object(Set.of(3)));
    assertEquals("b'a\\x00\\'\\\\'", Repr.object(new byte[] {'a', 0, '\'', '\\'}));
    assertEquals("\"it's\"", Repr.object("it's"));
    assertEquals("'line\\nbreak'", Repr.object("line\nbreak"));
    assertEquals("12345678901234567890", Repr.object(new BigInteger("12345678901234567890")));
    assertEquals("[1, 2]", Repr.object(new int[] {1, 2}));
  }

  @Test
  void floatsPrintAsPythonFloats() {
    assertEquals("2.5", Repr.floatRepr(2.5));
    assertEquals("1.0", Repr.floatRepr(1.0));
    assertEquals("1e+100", Repr.floatRepr(1e100));
    assertEquals("1.5e-07", Repr.floatRepr(1.5e-7));
    assertEquals("0.0001", Repr.floatRepr(1e-4));
    assertEquals("1234567.0", Repr.floatRepr(1234567.0));
    assertEquals("inf", Repr.floatRepr(Double.POSITIVE_INFINITY));
    assertEquals("nan", Repr.floatRepr(Double.NaN));
  }

  @Test
  void jsonValuesBecomeJavaObjects() {
    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("a", Arrays.asList(1L, 2.5, null, true, "x\"y\u00e9"));
    expected.put("big", new BigInteger("123456789012345678901234567890"));
    assertEquals(
        expected,
        Json.parse(
            " {\"a\": [1, 2.5, null, true, \"x\\\"y\\u00e9\"], \"big\": 123456789012345678901234567890} "));
    assertEquals(List.of(), Json.parse("[]"));
    assertEquals(-1.5e3, Json.parse("-1.5e3"));
    for (String bad :
        List.of("", "{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2", "{1: 2}", "\"\\q\"")) {
      assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
    }
  }
}
