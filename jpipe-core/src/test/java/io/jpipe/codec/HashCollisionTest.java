package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.Serial;
import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.MonthDay;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.Period;
import java.time.Year;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Keys whose hashes collide (issue 8, point 5): a hash table compares each such key with the
 * others, so n colliding keys cost n² comparisons, and a SerialDOS hides in keys of the
 * application's own classes as well as in the JDK's collections. The scan computes the hashCode
 * each key will have and charges the comparisons as the table will make them; hostile messages are
 * refused in milliseconds, honest ones of the same size decode.
 */
class HashCollisionTest {
  private static final JavaSerializationCodec ANY =
      (JavaSerializationCodec) Codec.javaSerialization();

  /** The default allow-list and this test's classes. */
  private static final JavaSerializationCodec ALLOWING =
      JavaSerializationCodec.allowing("io.jpipe.codec.*");

  /** A record of every component type. */
  record Everything(
      boolean z,
      byte b,
      short s,
      char c,
      int i,
      long j,
      float f,
      double d,
      String text,
      List<Integer> list,
      Object nothing)
      implements Serializable {}

  record Pair(Object left, Object right) implements Serializable {}

  private static List<Object> hashedValues() {
    TreeSet<String> reversed = new TreeSet<>(Collections.reverseOrder());
    reversed.addAll(List.of("a", "b", "c"));
    return List.of(
        "",
        "plain",
        "ünïcödé ✓ 🎉",
        "x".repeat(70_000),
        Integer.MIN_VALUE,
        -7L,
        Long.MAX_VALUE,
        (short) -3,
        (byte) -1,
        'q',
        true,
        false,
        1.5f,
        Float.NaN,
        -0.0,
        Double.NaN,
        Math.PI,
        BigInteger.ZERO,
        BigInteger.TEN.pow(40).negate(),
        BigInteger.ONE.shiftLeft(95),
        new BigDecimal("-1234.5678"),
        new BigDecimal(BigInteger.TEN.pow(30), 7),
        UUID.fromString("123e4567-e89b-12d3-a456-426614174000"),
        new Date(1_700_000_000_123L),
        Duration.ofSeconds(-5, 7),
        Instant.ofEpochSecond(1_700_000_000L, 99),
        LocalDate.of(-40_000, 2, 29),
        LocalTime.of(7, 0),
        LocalTime.of(7, 8),
        LocalTime.of(7, 8, 9),
        LocalTime.of(7, 8, 9, 10),
        LocalDateTime.of(2024, 5, 6, 7, 8, 9, 10),
        ZonedDateTime.of(2024, 5, 6, 7, 8, 9, 10, ZoneId.of("Europe/Paris")),
        ZonedDateTime.of(2024, 5, 6, 7, 8, 9, 10, ZoneOffset.ofHoursMinutesSeconds(1, 2, 3)),
        OffsetDateTime.of(2024, 5, 6, 7, 8, 9, 10, ZoneOffset.ofHours(-3)),
        OffsetTime.of(7, 8, 9, 10, ZoneOffset.ofHours(5)),
        ZoneId.of("America/New_York"),
        ZoneOffset.ofTotalSeconds(3_601),
        Year.of(1999),
        YearMonth.of(1999, 12),
        MonthDay.of(2, 29),
        Period.of(1, -2, 3),
        new ArrayList<>(List.of(1, "two", 3.0)),
        new LinkedList<>(List.of("l", "m")),
        new CopyOnWriteArrayList<>(List.of(9, 8)),
        List.of(),
        List.of(1),
        List.of(1, 2, 3, 4),
        Arrays.asList("a", null, 3),
        Collections.singletonList("s"),
        Collections.emptyList(),
        Collections.unmodifiableList(new ArrayList<>(List.of(1, 2))),
        Collections.synchronizedList(new LinkedList<>(List.of(3))),
        new HashSet<>(List.of("p", "q", "r")),
        new LinkedHashSet<>(List.of(3, 1, 2)),
        reversed,
        Set.of(),
        Set.of("one"),
        Set.of(1, 2, 3, 4, 5),
        Collections.singleton(List.of(1)),
        Collections.emptySet(),
        Collections.unmodifiableSet(new HashSet<>(List.of("u"))),
        new HashMap<>(Map.of("k", List.of(1), "j", 2)),
        new LinkedHashMap<>(Map.of(1, "one")),
        new TreeMap<>(Map.of("b", 2, "a", 1)),
        new Hashtable<>(Map.of("h", 1, "i", 2)),
        new ConcurrentHashMap<>(Map.of("c", 3)),
        Map.of(),
        Map.of("a", 1),
        Map.of("a", 1, "b", 2, "c", 3),
        Collections.singletonMap("k", "v"),
        Collections.emptyMap(),
        Collections.unmodifiableMap(new HashMap<>(Map.of(1, 2))),
        Collections.synchronizedMap(new TreeMap<>(Map.of(3, 4))),
        new AbstractMap.SimpleEntry<>("e", 1),
        new AbstractMap.SimpleImmutableEntry<>(2, List.of()),
        new Everything(
            true, (byte) -2, (short) 300, 'c', -5, 1L << 40, -1.25f, 2.5, "t", List.of(1), null),
        new Pair(new Pair("a", 1), Set.of(new Pair(List.of(), Map.of()))),
        List.of(
            Map.of("nested", Set.of(List.of(BigInteger.TWO, LocalDate.of(2000, 1, 1)))),
            new Pair(UUID.randomUUID(), new Date(5))));
  }

  @Test
  void theScanComputesTheHashCodeEachValueWillHave() throws Exception {
    for (Object v : hashedValues()) {
      byte[] stream = stream(v);
      StreamScan.Result r =
          StreamScan.scan(
              stream,
              0,
              stream.length,
              DecodeLimits.defaults(),
              DecodeLimits.DEFAULT_MAX_DEPTH,
              getClass().getClassLoader());
      assertTrue(r.hashKnown(), () -> "the scan knows the hash of " + describe(v));
      assertEquals(v.hashCode(), r.hash(), () -> "hash of " + describe(v));
    }
  }

  /** The full serialization stream of {@code v} (never the compact form). */
  private static byte[] stream(Object v) throws IOException {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
      out.writeObject(v);
    }
    return bytes.toByteArray();
  }

  private static String describe(Object v) {
    String s = String.valueOf(v);
    return v.getClass().getName() + " " + (s.length() > 80 ? s.substring(0, 80) + "..." : s);
  }

  // ---- hostile messages: n distinct keys, one hash

  /** Lists [a, -31a]: every one hashes to 31 * 31 + 0 = 961, and lists are not Comparable. */
  static List<Object> collidingLists(int n) {
    List<Object> lists = new ArrayList<>();
    for (int a = 0; a < n; a++) {
      lists.add(new ArrayList<>(List.of(a, -31 * a)));
    }
    return lists;
  }

  /**
   * Strings of "Aa"/"BB" pairs (one hash) and as many Longs of that hash, interleaved: two classes
   * in one tree bin, so HashMap cannot order them and compares each with each.
   */
  static List<Object> collidingStringsAndLongs(int pairs) {
    List<Object> keys = new ArrayList<>();
    int n = 1 << pairs;
    for (int i = 0; i < n; i++) {
      StringBuilder s = new StringBuilder();
      for (int j = 0; j < pairs; j++) {
        s.append(((i >> j) & 1) == 0 ? "Aa" : "BB");
      }
      int hash = s.toString().hashCode();
      keys.add(s.toString());
      long high = i + 1L;
      keys.add((high << 32) | ((high ^ hash) & 0xffffffffL));
    }
    return keys;
  }

  /**
   * Integers that all start from one slot of {@code Set.of}'s table (2n slots; n a power of two, so
   * that the multiples of 2n stay distinct ints).
   */
  static Object[] oneSlot(int n) {
    Object[] keys = new Object[n];
    for (int i = 0; i < n; i++) {
      keys[i] = i * 2 * n;
    }
    return keys;
  }

  record Attack(String name, byte[] message) {}

  static List<Attack> collisionAttacks() throws IOException {
    List<Object> stringsAndLongs = collidingStringsAndLongs(15);
    List<Object> strings = new ArrayList<>();
    for (Object o : stringsAndLongs) {
      if (o instanceof String) {
        strings.add(o);
      }
    }
    return List.of(
        new Attack(
            "a HashSet of 40,000 colliding lists",
            Forge.stream(new Forge.ForgedHashSet(collidingLists(40_000)))),
        new Attack(
            "a HashMap of 40,000 colliding lists",
            Forge.stream(new Forge.ForgedHashMap(collidingLists(40_000)))),
        new Attack(
            "a HashSet of 32,768 colliding strings and as many longs",
            Forge.stream(new Forge.ForgedHashSet(stringsAndLongs))),
        new Attack(
            "Set.of 32,768 integers from one slot",
            Forge.stream(new Forge.ForgedCollSer(2, oneSlot(32_768)))),
        new Attack(
            "Map.of 32,768 integer keys from one slot",
            Forge.stream(new Forge.ForgedCollSer(3, mapOf(oneSlot(32_768))))),
        new Attack(
            "a Hashtable of 32,768 colliding strings",
            Forge.stream(new Forge.ForgedHashtable(strings))));
  }

  private static Object[] mapOf(Object[] keys) {
    Object[] pairs = new Object[2 * keys.length];
    for (int i = 0; i < keys.length; i++) {
      pairs[2 * i] = keys[i];
      pairs[2 * i + 1] = i;
    }
    return pairs;
  }

  @Test
  void collidingKeysAreRefusedQuicklyOnBothKindsOfThread() throws Exception {
    List<Attack> attacks = collisionAttacks();
    HostileJavaStreamTest.onBothKindsOfThread(
        () -> {
          for (Attack a : attacks) {
            for (JavaSerializationCodec c : List.of(ANY, ALLOWING)) {
              if (c == ALLOWING && a.name().contains("Hashtable")) {
                continue; // not on the allow-list
              }
              long t0 = System.nanoTime();
              DecodeLimitException e =
                  assertThrows(
                      DecodeLimitException.class,
                      () -> c.decode(a.message(), 0, a.message().length),
                      a.name());
              long ms = (System.nanoTime() - t0) / 1_000_000;
              assertEquals("maxWork", e.limit(), a.name());
              assertTrue(e.getMessage().contains("collide"), e.getMessage());
              System.out.printf(
                  "%s (%,d bytes) refused in %d ms%n", a.name(), a.message().length, ms);
            }
          }
          return null;
        });
  }

  @Test
  void honestKeysOfTheSameSizeDecode() throws Exception {
    List<Object> lists = new ArrayList<>();
    Set<Object> strings = new HashSet<>();
    Map<Object, Object> numbered = new HashMap<>();
    Map<Object, Object> grid = new HashMap<>();
    for (int i = 0; i < 40_000; i++) {
      lists.add(List.of(i, "item " + i));
      strings.add("key-" + i);
      numbered.put("key-" + i, i);
    }
    for (int x = 0; x < 300; x++) {
      for (int y = 0; y < 300; y++) {
        grid.put(List.of(x, y), x * y); // lists of small ints: many share a hash, as in Java
      }
    }
    // (Map.copyOf(grid) would be refused, rightly: its 90,000 keys hash into 9,600 neighbouring
    // slots of a table that probes linearly, and building it takes Java minutes.)
    List<Object> honest =
        List.of(
            new HashSet<>(lists),
            strings,
            grid,
            Set.copyOf(lists),
            Set.copyOf(strings),
            Map.copyOf(numbered),
            new Hashtable<>(grid));
    for (Object v : honest) {
      for (JavaSerializationCodec c : List.of(ANY, ALLOWING)) {
        if (c == ALLOWING && v instanceof Hashtable) {
          continue;
        }
        byte[] b = HostileJavaStreamTest.encode(ANY, v);
        assertEquals(v, c.decode(b, 0, b.length));
      }
    }
  }

  // ---- SerialDOS in the application's own class

  /** A value class of the application: its hashCode hashes both fields, as most do. */
  static final class Twin implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    private final Serializable left;
    private final Serializable right;

    Twin(Serializable left, Serializable right) {
      this.left = left;
      this.right = right;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Twin t && Objects.equals(t.left, left) && Objects.equals(t.right, right);
    }

    @Override
    public int hashCode() {
      return Objects.hash(left, right);
    }
  }

  @Test
  void aSerialDosMadeOfTheApplicationsOwnValueClassIsRefused() throws Exception {
    // Twins of twins sharing both halves, 25 deep: the value expands to 2^26 objects, within
    // maxWork, but hashing it visits 2^25 of them, which a HashSet does as it reads it back.
    Serializable t = "leaf";
    for (int i = 0; i < 25; i++) {
      t = new Twin(t, t);
    }
    byte[] dos = Forge.stream(new Forge.ForgedHashSet(List.of(t))); // never hashed to write
    for (JavaSerializationCodec c : List.of(ANY, ALLOWING)) {
      long t0 = System.nanoTime();
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> c.decode(dos, 0, dos.length));
      System.out.printf(
          "SerialDOS of a value class (25 levels, %,d bytes) refused in %.1f ms%n",
          dos.length, (System.nanoTime() - t0) / 1e6);
      assertEquals("maxWork", e.limit());
      assertTrue(e.getMessage().contains("hashing"), e.getMessage());
    }
    Object shallow = new Twin(new Twin("a", "b"), new Twin("c", new ArrayList<>(List.of(1, 2))));
    byte[] ok = Forge.stream(new Forge.ForgedHashSet(List.of(shallow, "x")));
    for (JavaSerializationCodec c : List.of(ANY, ALLOWING)) {
      assertEquals(Set.of(shallow, "x"), c.decode(ok, 0, ok.length));
    }
  }

  /** An entity of the application: hashed by its id, it refers to others that refer back. */
  static final class Person implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    private final String id;
    private final ArrayList<Person> friends = new ArrayList<>();

    Person(String id) {
      this.id = id;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Person p && p.id.equals(id);
    }

    @Override
    public int hashCode() {
      return id.hashCode();
    }
  }

  @Test
  void entitiesThatReferToEachOtherStillDecodeInASet() throws Exception {
    Set<Person> people = new HashSet<>();
    List<Person> all = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      Person p = new Person("p" + i);
      all.add(p);
      people.add(p);
    }
    for (int i = 0; i < all.size(); i++) {
      all.get(i).friends.add(all.get((i + 1) % all.size())); // a ring: each refers back round
    }
    for (JavaSerializationCodec c : List.of(ANY, ALLOWING)) {
      byte[] b = HostileJavaStreamTest.encode(ANY, people);
      @SuppressWarnings("unchecked")
      Set<Person> back = (Set<Person>) c.decode(b, 0, b.length);
      assertEquals(people, back);
      assertInstanceOf(Person.class, back.iterator().next().friends.getFirst());
    }
  }

  @Test
  void aSetOfManyIdentityHashedObjectsIsNotChargedAsColliding() throws Exception {
    List<Object> plain = new ArrayList<>();
    for (int i = 0; i < 50_000; i++) {
      plain.add(new java.util.concurrent.atomic.AtomicInteger(i)); // Object's hashCode
    }
    byte[] b = Forge.stream(new Forge.ForgedHashSet(plain));
    assertEquals(50_000, ((Set<?>) ANY.decode(b, 0, b.length)).size());
  }
}
