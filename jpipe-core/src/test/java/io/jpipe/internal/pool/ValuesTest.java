package io.jpipe.internal.pool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.StreamCorruptedException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pool's value encoding: each form round trips, and the packed lists only where they fit. */
class ValuesTest {
  private static byte[] encode(Object v) throws Exception {
    WireOut out = new WireOut(16);
    Values.write(out, v);
    return out.toByteArray();
  }

  private static Object roundTrip(Object v) throws Exception {
    WireIn in = new WireIn(encode(v));
    Object back = Values.read(in, null);
    assertFalse(in.hasMore(), "the whole value was read");
    return back;
  }

  private static <T> ArrayList<T> arrayList(List<T> elements) {
    return new ArrayList<>(elements);
  }

  @Test
  void listOfIntsIsPackedAndRoundTrips() throws Exception {
    ArrayList<Integer> ints =
        arrayList(Arrays.asList(0, 1, -1, 127, 128, Integer.MIN_VALUE, Integer.MAX_VALUE));
    byte[] b = encode(ints);
    assertEquals(Values.INTS, b[0]);
    assertEquals(1 + 4 + 4 * ints.size(), b.length, "no tag per element");
    Object back = roundTrip(ints);
    assertInstanceOf(ArrayList.class, back);
    assertEquals(ints, back);
    assertInstanceOf(Integer.class, ((List<?>) back).get(0));
  }

  @Test
  void listOfLongsIsPackedAndRoundTrips() throws Exception {
    ArrayList<Long> longs = arrayList(Arrays.asList(0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L));
    byte[] b = encode(longs);
    assertEquals(Values.LONGS, b[0]);
    assertEquals(1 + 4 + 8 * longs.size(), b.length);
    Object back = roundTrip(longs);
    assertEquals(longs, back);
    assertInstanceOf(Long.class, ((List<?>) back).get(0));
  }

  @Test
  void mixedListsKeepEachElementsType() throws Exception {
    ArrayList<Object> mixed = arrayList(Arrays.asList(1, 2L, 3, "four", 5.0, true, null));
    assertEquals(Values.LIST, encode(mixed)[0]);
    List<?> back = (List<?>) roundTrip(mixed);
    assertEquals(mixed, back);
    assertInstanceOf(Integer.class, back.get(0));
    assertInstanceOf(Long.class, back.get(1));
    assertInstanceOf(Integer.class, back.get(2));

    ArrayList<Object> intsThenLong = arrayList(Arrays.asList(1, 2, 3L));
    assertEquals(Values.LIST, encode(intsThenLong)[0]);
    assertInstanceOf(Long.class, ((List<?>) roundTrip(intsThenLong)).get(2));
  }

  @Test
  void nullElementsAreNotPacked() throws Exception {
    for (List<Object> elements :
        List.of(
            Arrays.<Object>asList(1, null, 3),
            Arrays.<Object>asList(null, 1, 2),
            Arrays.<Object>asList(1L, 2L, null))) {
      ArrayList<Object> list = arrayList(elements);
      assertEquals(Values.LIST, encode(list)[0], list.toString());
      assertEquals(list, roundTrip(list));
    }
  }

  @Test
  void emptyAndNestedLists() throws Exception {
    assertEquals(new ArrayList<>(), roundTrip(new ArrayList<>()));
    ArrayList<Object> nested = arrayList(List.of(arrayList(List.of(1, 2)), arrayList(List.of(3L))));
    List<?> back = (List<?>) roundTrip(nested);
    assertEquals(nested, back);
    assertInstanceOf(ArrayList.class, back.get(0));
  }

  @Test
  void otherListsAndNumbersTravelAsJava() throws Exception {
    // only an ArrayList is packed; an immutable list keeps its class through serialization
    List<Integer> immutable = List.of(1, 2, 3);
    assertEquals(Values.JAVA, encode(immutable)[0]);
    assertEquals(immutable, roundTrip(immutable));
    ArrayList<Object> bigs = arrayList(List.of(BigInteger.ONE, BigInteger.TWO));
    assertEquals(bigs, roundTrip(bigs));
  }

  @Test
  void hugeListsRoundTrip() throws Exception {
    int n = 1_000_000;
    ArrayList<Integer> ints = new ArrayList<>(n);
    ArrayList<Long> longs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ints.add(i * 31 - n);
      longs.add((long) i << 33);
    }
    assertEquals(ints, roundTrip(ints));
    assertEquals(longs, roundTrip(longs));
  }

  @Test
  void truncatedPackedListsAreRefused() throws Exception {
    byte[] ints = encode(arrayList(List.of(1, 2, 3)));
    for (int cut = 1; cut < ints.length; cut++) {
      WireIn in = new WireIn(Arrays.copyOf(ints, cut));
      assertThrows(StreamCorruptedException.class, () -> Values.read(in, null), "cut " + cut);
    }
    byte[] longs = encode(arrayList(List.of(1L, 2L)));
    WireIn in = new WireIn(Arrays.copyOf(longs, longs.length - 1));
    assertThrows(StreamCorruptedException.class, () -> Values.read(in, null));
    // a count that the message cannot hold, or a negative one
    for (int count : new int[] {Integer.MAX_VALUE, -1, 4}) {
      WireOut out = new WireOut(16);
      out.writeByte(Values.INTS);
      out.writeInt(count);
      out.writeInt(7);
      WireIn bad = new WireIn(out.toByteArray());
      assertThrows(StreamCorruptedException.class, () -> Values.read(bad, null), "count " + count);
    }
  }

  @Test
  void scalarsRoundTrip() throws Exception {
    for (Object v : Arrays.asList(null, 1, -7L, 2.5, "text", "ünï", true, false)) {
      assertEquals(v, roundTrip(v));
    }
    assertArrayEquals(new byte[] {1, 2, 3}, (byte[]) roundTrip(new byte[] {1, 2, 3}));
  }
}
