package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.Pipe;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.NotSerializableException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The default codec: Java serialization, always filtered. */
class JavaSerializationCodecTest {
  /** A class the decoding JVM knows; its name is altered in the bytes to one it does not. */
  record Known(int x) implements Serializable {}

  private static byte[] encode(Codec codec, Object o) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    codec.encode(o, out);
    return out.toByteArray();
  }

  @Test
  void roundTripsSerializableObjects() throws IOException {
    Codec c = Codec.javaSerialization();
    for (Object o :
        new Object[] {
          null, 1, 2.5, "s", List.of(1, 2), new Known(3), new ArrayList<>(List.of("a"))
        }) {
      byte[] b = encode(c, o);
      assertEquals(o, c.decode(b, 0, b.length));
    }
    byte[] framed = new byte[100];
    byte[] b = encode(c, "offset");
    System.arraycopy(b, 0, framed, 7, b.length);
    assertEquals("offset", c.decode(framed, 7, b.length));
  }

  @Test
  void commonValuesTakeTheCompactFormAndRoundTrip() throws IOException {
    Codec c = Codec.javaSerialization();
    Object[] values = {
      null,
      true,
      false,
      0,
      -1,
      Integer.MIN_VALUE,
      Long.MAX_VALUE,
      -0.0,
      Double.NaN,
      2.5,
      "",
      "ascii",
      "ünïcödé 🎉",
      new byte[0],
      new byte[] {1, 2, 3}
    };
    for (Object v : values) {
      byte[] b = encode(c, v);
      assertTrue(b.length <= 9 || v instanceof String || v instanceof byte[], "compact: " + v);
      assertTrue(b[0] != (byte) 0xAC, "not a serialization stream: " + v);
      Object back = c.decode(b, 0, b.length);
      if (v instanceof byte[] bytes) {
        assertTrue(Arrays.equals(bytes, (byte[]) back));
      } else {
        assertEquals(v, back);
        assertEquals(v == null ? null : v.getClass(), back == null ? null : back.getClass());
      }
    }
    assertEquals(5, encode(c, 1729).length);
    String lone = "bad \uD800 surrogate";
    byte[] b = encode(c, lone);
    assertEquals((byte) 0xAC, b[0], "a lone surrogate takes the serialization path");
    assertEquals(lone, c.decode(b, 0, b.length));
  }

  @Test
  void malformedCompactFormsAreCorrupt() {
    Codec c = Codec.javaSerialization();
    for (byte[] bad :
        new byte[][] {
          {4, 0, 0, 0}, {4, 0, 0, 0, 0, 0}, {1, 0}, {5}, {0x7f}, {6, 1, 2, 3, 4, 5, 6, 7}
        }) {
      assertThrows(
          StreamCorruptedException.class, () -> c.decode(bad, 0, bad.length), Arrays.toString(bad));
    }
  }

  @Test
  void filtersApplyToCompactValuesToo() throws IOException {
    Codec c =
        JavaSerializationCodec.withFilter(
            ObjectInputFilter.Config.createFilter("!java.lang.Integer"));
    byte[] b = encode(c, 7);
    assertThrows(InvalidClassException.class, () -> c.decode(b, 0, b.length));
    byte[] s = encode(c, "fine");
    assertEquals("fine", c.decode(s, 0, s.length));
  }

  @Test
  void anArrayLongerThanItsMessageIsRefusedBeforeAllocation() throws IOException {
    Codec c = Codec.javaSerialization();
    byte[] whole = encode(c, new int[50_000_000]); // 200 MB of zeros on the wire
    byte[] head = Arrays.copyOf(whole, 200); // the header of the array, a lying length
    StreamCorruptedException e =
        assertThrows(StreamCorruptedException.class, () -> c.decode(head, 0, head.length));
    assertTrue(e.getMessage().contains("announces"), e.getMessage());
  }

  @Test
  void tooDeepGraphsAreRefused() throws IOException {
    Codec c = JavaSerializationCodec.withLimits(5, 1000);
    Object deep = List.of(List.of(List.of(List.of(List.of(List.of(List.of(1)))))));
    byte[] b = encode(Codec.javaSerialization(), deep);
    DecodeLimitException e =
        assertThrows(DecodeLimitException.class, () -> c.decode(b, 0, b.length));
    assertEquals("maxDepth", e.limit());
    assertEquals(5, e.value());
    assertEquals(deep, Codec.javaSerialization().decode(b, 0, b.length));
    assertThrows(IllegalArgumentException.class, () -> JavaSerializationCodec.withLimits(0, 1));
  }

  @Test
  void tooManyReferencesAreRefused() throws IOException {
    Codec c = JavaSerializationCodec.withLimits(100, 50);
    Known one = new Known(1);
    List<Known> many = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      many.add(one); // back-references are counted and checked
    }
    byte[] b = encode(Codec.javaSerialization(), many);
    DecodeLimitException e =
        assertThrows(DecodeLimitException.class, () -> c.decode(b, 0, b.length));
    assertEquals("maxObjects", e.limit());
  }

  @Test
  void aUserFilterIsApplied() throws IOException {
    ObjectInputFilter noLists =
        ObjectInputFilter.Config.createFilter("!java.util.ArrayList;java.base/*");
    Codec c = JavaSerializationCodec.withFilter(noLists);
    byte[] list = encode(c, new ArrayList<>(List.of(1)));
    assertThrows(InvalidClassException.class, () -> c.decode(list, 0, list.length));
    byte[] s = encode(c, "fine");
    assertEquals("fine", c.decode(s, 0, s.length));
  }

  @Test
  void anUnknownClassIsAnInvalidClassException() throws IOException {
    Codec c = Codec.javaSerialization();
    byte[] b = encode(c, new Known(1));
    String text = new String(b, StandardCharsets.ISO_8859_1);
    String altered = text.replace("$Known", "$Knowx"); // same length, no such class
    byte[] bad = altered.getBytes(StandardCharsets.ISO_8859_1);
    InvalidClassException e =
        assertThrows(InvalidClassException.class, () -> c.decode(bad, 0, bad.length));
    assertTrue(e.getMessage().contains("class not found"), e.getMessage());
  }

  @Test
  void emptyOrCutShortEncodingsAreCorruptNotEndOfFile() throws IOException {
    Codec c = Codec.javaSerialization();
    assertThrows(StreamCorruptedException.class, () -> c.decode(new byte[0], 0, 0));
    byte[] b = encode(c, List.of("a list that is long enough"));
    assertThrows(StreamCorruptedException.class, () -> c.decode(b, 0, b.length - 5));
  }

  @Test
  void theCodecTravelsToOtherProcessesOnlyWithASerializableFilter() throws Exception {
    assertSame(Codec.javaSerialization(), roundTrip(Codec.javaSerialization()));
    JavaSerializationCodec limited = JavaSerializationCodec.withLimits(7, 8);
    assertEquals(limited.toString(), roundTrip(limited).toString());
    JavaSerializationCodec lambda =
        JavaSerializationCodec.withFilter(info -> ObjectInputFilter.Status.UNDECIDED);
    assertThrows(NotSerializableException.class, () -> roundTrip(lambda));
  }

  private static Object roundTrip(Object o) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
    }
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return in.readObject();
    }
  }

  /** The JVM-wide filter (-Djdk.serialFilter) is honoured; it needs a JVM of its own. */
  @Test
  void theJvmWideFilterIsHonoured() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "-Djdk.serialFilter=!java.util.ArrayList",
                "-cp",
                System.getProperty("java.class.path"),
                JvmWideFilterProbe.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals("list refused: java.io.InvalidClassException; string: ok", out);
  }

  /** Run in its own JVM by {@link #theJvmWideFilterIsHonoured}. */
  public static final class JvmWideFilterProbe {
    private JvmWideFilterProbe() {}

    public static void main(String[] args) throws IOException {
      try (Pipe pipe = Pipe.open()) {
        pipe.conn1().send(new ArrayList<>(List.of(1)));
        pipe.conn1().send("ok");
        String first;
        try {
          pipe.conn2().recv();
          first = "list accepted";
        } catch (InvalidClassException e) {
          first = "list refused: " + e.getClass().getName();
        }
        System.out.println(first + "; string: " + pipe.conn2().recv());
      }
    }
  }
}
