package io.jpipe.pickle;

import static io.jpipe.pickle.Values.assertDeepEquals;
import static io.jpipe.pickle.Values.decode;
import static io.jpipe.pickle.Values.dict;
import static io.jpipe.pickle.Values.encode;
import static io.jpipe.pickle.Values.hex;
import static io.jpipe.pickle.Values.list;
import static io.jpipe.pickle.Values.set;
import static io.jpipe.pickle.Values.tuple;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.pickle.Cases.Case;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The codec on its own: round trips, the exact bytes, options, errors on encoding, threads. */
class PickleCodecTest {
  private final PickleCodec codec = PickleCodec.create();

  @Test
  void everyRowOfTheTableRoundTrips() throws IOException {
    for (Case c : Cases.all()) {
      if (c.encodes()) {
        assertDeepEquals(c.decoded(), decode(codec, encode(codec, c.java())));
      }
    }
  }

  @Test
  void decodesFromTheMiddleOfAnArray() throws IOException {
    byte[] pickle = encode(codec, list("mid", 1));
    byte[] framed = new byte[pickle.length + 20];
    java.util.Arrays.fill(framed, (byte) 0x2e); // STOP everywhere around it
    System.arraycopy(pickle, 0, framed, 7, pickle.length);
    assertDeepEquals(list("mid", 1), codec.decode(framed, 7, pickle.length));
    assertThrows(IndexOutOfBoundsException.class, () -> codec.decode(framed, 7, framed.length));
    assertThrows(IndexOutOfBoundsException.class, () -> codec.decode(framed, -1, 2));
  }

  @Test
  void goldenCPythonBytesDecode() throws IOException {
    // pickle.dumps(1729, protocol=4): what CPython 3.8-3.13's send(1729) puts after the header
    assertEquals(1729, decode(codec, hex("80 04 95 04 00 00 00 00 00 00 00 4d c1 06 2e")));
    assertNull(decode(codec, hex("80 04 4e 2e")));
    // protocol 5 (CPython 3.14's send), protocol 2, and protocol 0 text
    assertEquals(1729, decode(codec, hex("80 05 95 04 00 00 00 00 00 00 00 4d c1 06 2e")));
    assertEquals(1729, decode(codec, hex("80 02 4d c1 06 2e")));
    assertEquals(
        1729, decode(codec, "I1729\n.".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
  }

  @Test
  void writesCPythonsOpcodesUnderAProtocol4Header() throws IOException {
    assertEquals(4, PickleCodec.PROTOCOL);
    assertArrayEquals(hex("80 04 4d c1 06 2e"), encode(codec, 1729)); // BININT2
    assertArrayEquals(hex("80 04 4e 2e"), encode(codec, null));
    assertArrayEquals(hex("80 04 88 2e"), encode(codec, true));
    assertArrayEquals(
        hex("80 04 43 02 01 ff 2e"), encode(codec, new byte[] {1, -1})); // SHORT_BINBYTES
    assertArrayEquals(
        hex("80 04 42 00 01 00 00"),
        java.util.Arrays.copyOf(encode(codec, new byte[256]), 7)); // BINBYTES, 4-byte length
    assertArrayEquals(hex("80 04 8f 71 00 2e"), encode(codec, set())); // EMPTY_SET, BINPUT 0
    assertArrayEquals(
        hex("80 04 8f 71 00 28 4b 05 90 2e"), encode(codec, set(5))); // MARK, BININT1, ADDITEMS
    assertArrayEquals(hex("80 04 29 71 00 2e"), encode(codec, tuple())); // EMPTY_TUPLE
  }

  @Test
  void intsDecodeToTheSmallestJavaTypeWhateverTheOpcode() throws IOException {
    assertEquals(5, decode(codec, hex("80 02 8a 01 05 2e"))); // LONG1 of 5
    assertEquals(0, decode(codec, hex("80 02 8a 00 2e"))); // LONG1 of no bytes: 0
    assertEquals(-1, decode(codec, hex("80 02 8b 01 00 00 00 ff 2e"))); // LONG4 of -1
    assertEquals(1L << 40, decode(codec, hex("80 02 8a 06 00 00 00 00 00 01 2e")));
    assertEquals(12, decode(codec, "L12L\n.".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
    assertEquals(
        BigInteger.TWO.pow(64), decode(codec, hex("80 02 8a 09 00 00 00 00 00 00 00 00 01 2e")));
  }

  @Test
  void protocol0FloatsIncludeInfinityAndNan() throws IOException {
    assertEquals(Double.POSITIVE_INFINITY, decode(codec, bytes("Finf\n.")));
    assertEquals(Double.NEGATIVE_INFINITY, decode(codec, bytes("F-inf\n.")));
    assertEquals(Double.NaN, decode(codec, bytes("Fnan\n.")));
    assertEquals(-2.5e-300, decode(codec, bytes("F-2.5e-300\n.")));
  }

  private static byte[] bytes(String latin1) {
    return latin1.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  @Test
  void objectsOutsideTheTableAreNotSerializable() throws IOException {
    record Point(int x, int y) implements Serializable {}
    for (Object o :
        new Object[] {
          new Object(),
          new Point(1, 2),
          'c',
          new char[] {'c'},
          new int[] {1},
          BigDecimal.ONE,
          Thread.State.NEW,
          new java.util.Date(0)
        }) {
      NotSerializableException e =
          assertThrows(NotSerializableException.class, () -> encode(codec, o));
      assertTrue(e.getMessage().contains(o.getClass().getName()), e.getMessage());
    }
    NotSerializableException nested =
        assertThrows(
            NotSerializableException.class,
            () -> encode(codec, list(1, dict("k", tuple(new Object())))));
    assertTrue(nested.getMessage().contains("java.lang.Object"), nested.getMessage());
  }

  @Test
  void lenientEncodesWhatRazorvineKnows() throws IOException {
    PickleCodec lenient = PickleCodec.lenient();
    assertEquals(new BigDecimal("1.25"), decode(lenient, encode(lenient, new BigDecimal("1.25"))));
    assertEquals("c", decode(lenient, encode(lenient, 'c')));
    assertEquals("NEW", decode(lenient, encode(lenient, Thread.State.NEW)));
    assertDeepEquals(
        tuple(true, false), decode(lenient, encode(lenient, new boolean[] {true, false})));
    assertDeepEquals(new int[] {1, 2}, decode(lenient, encode(lenient, new int[] {1, 2})));
    // byte[] and sets as the table says, in lenient mode too
    assertDeepEquals(new byte[] {1}, decode(lenient, encode(lenient, new byte[] {1})));
    assertDeepEquals(set("a"), decode(lenient, encode(lenient, java.util.Set.of("a"))));
    // the last resort: a Serializable object as the dict of its getters, plus its class name
    Map<?, ?> bean = assertInstanceOf(Map.class, decode(lenient, encode(lenient, new Bean())));
    assertEquals(Bean.class.getName(), bean.get("__class__"));
    assertEquals(42, bean.get("answer"));
    assertThrows(NotSerializableException.class, () -> encode(lenient, new Object()));
  }

  /** A JavaBean, for the lenient codec. */
  public static final class Bean implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * A property.
     *
     * @return 42
     */
    public int getAnswer() {
      return 42;
    }
  }

  @Test
  void nestingDeeperThan1000LevelsIsNotSerializable() throws IOException {
    Object deep = decode(codec, encode(codec, Cases.nest(999)));
    int depth = 0;
    for (List<?> l = (List<?>) deep; !l.isEmpty(); l = (List<?>) l.getFirst()) {
      depth++;
    }
    assertEquals(999, depth);
    NotSerializableException e =
        assertThrows(NotSerializableException.class, () -> encode(codec, Cases.nest(1000)));
    assertTrue(e.getMessage().contains("1000"), e.getMessage());
    Object[] a = new Object[1];
    Object[] b = {a};
    a[0] = b; // arrays (tuples) that contain each other
    assertThrows(NotSerializableException.class, () -> encode(codec, a));
    Object deepSets = set();
    for (int i = 0; i < 1001; i++) {
      deepSets = set(deepSets);
    }
    Object tooDeep = deepSets;
    assertThrows(NotSerializableException.class, () -> encode(codec, tooDeep));
  }

  @Test
  void selfContainingListsAndDictsRoundTrip() throws IOException {
    List<Object> l = list("x");
    l.add(l);
    List<?> got = (List<?>) decode(codec, encode(codec, l));
    assertEquals("x", got.get(0));
    assertSame(got, got.get(1));
    List<Object> inner = list(1);
    List<?> shared = (List<?>) decode(codec, encode(codec, list(inner, inner, inner)));
    assertSame(shared.get(0), shared.get(2));
  }

  @Test
  void theCodecSerializesToTheSameSharedInstance() throws Exception {
    for (PickleCodec c : List.of(PickleCodec.create(), PickleCodec.lenient())) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(c);
      }
      Object back;
      try (ObjectInputStream in =
          new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
        back = in.readObject();
      }
      assertSame(c, back);
      assertEquals(12, decode((PickleCodec) back, encode((PickleCodec) back, 12)));
    }
    assertEquals("PickleCodec", PickleCodec.create().toString());
    assertEquals("PickleCodec[lenient]", PickleCodec.lenient().toString());
  }

  @Test
  void oneCodecServesManyThreadsAtOnce() throws Exception {
    int threads = 8;
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      List<Future<?>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        results.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 2_000; i++) {
                    Object value = list(id, i, "t" + id + "-" + i, dict("k", tuple(id, i)), set(i));
                    assertDeepEquals(value, decode(codec, encode(codec, value)));
                  }
                  return null;
                }));
      }
      for (Future<?> f : results) {
        f.get();
      }
    }
  }
}
