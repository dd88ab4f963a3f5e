package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.Pipe;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.Externalizable;
import java.io.File;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInput;
import java.io.ObjectInputStream;
import java.io.ObjectOutput;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.URI;
import java.text.DecimalFormat;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.Month;
import java.time.OffsetDateTime;
import java.time.Period;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.Date;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.GregorianCalendar;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.LinkedList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Properties;
import java.util.Set;
import java.util.TimeZone;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.Vector;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Hostile Java serialization streams (issue 8, points 5, 6 and 9): every attack is refused with its
 * exact exception type, never an {@link Error}, on a thread of the default stack size and on a
 * virtual thread, and the next honest message over the same pipe still arrives. Honest streams of
 * many JDK types, written by the real {@link ObjectOutputStream}, still decode.
 */
class HostileJavaStreamTest {
  private static final JavaSerializationCodec ANY =
      (JavaSerializationCodec) Codec.javaSerialization();

  // ---- honest streams

  /** A user class with a custom writeObject that writes more objects after its fields. */
  static final class Custom implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    int n;
    String s;
    transient List<Object> extra = new ArrayList<>();

    Custom(int n, String s) {
      this.n = n;
      this.s = s;
      extra.add(List.of(n, s));
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(extra.size());
      for (Object o : extra) {
        out.writeObject(o);
      }
      out.writeUTF("end");
    }

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      int k = in.readInt();
      extra = new ArrayList<>();
      for (int i = 0; i < k; i++) {
        extra.add(in.readObject());
      }
      if (!in.readUTF().equals("end")) {
        throw new IOException("bad tail");
      }
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Custom c && c.n == n && c.s.equals(s) && c.extra.equals(extra);
    }

    @Override
    public int hashCode() {
      return n;
    }
  }

  /** An Externalizable user class. */
  public static final class Ext implements Externalizable {
    @Serial private static final long serialVersionUID = 1L;
    transient Object payload;

    /** For Externalizable. */
    public Ext() {}

    Ext(Object payload) {
      this.payload = payload;
    }

    @Override
    public void writeExternal(ObjectOutput out) throws IOException {
      out.writeInt(42);
      out.writeObject(payload);
    }

    @Override
    public void readExternal(ObjectInput in) throws IOException, ClassNotFoundException {
      if (in.readInt() != 42) {
        throw new IOException("bad");
      }
      payload = in.readObject();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Ext e && Objects.equals(e.payload, payload);
    }

    @Override
    public int hashCode() {
      return 1;
    }
  }

  /** A record; allowed by {@code allowing()} since its components are. */
  record Point(int x, int y, String label) implements Serializable {}

  /** A record holding a record and a list. */
  record Shape(Point origin, List<Point> corners) implements Serializable {}

  enum Colour {
    RED,
    GREEN
  }

  private static List<Object> honestValues() throws Exception {
    LinkedHashMap<String, Integer> accessOrder = new LinkedHashMap<>(16, 0.75f, true);
    accessOrder.put("a", 1);
    accessOrder.put("b", 2);
    TreeMap<String, Integer> reverse = new TreeMap<>(Collections.reverseOrder());
    reverse.put("x", 1);
    reverse.put("y", 2);
    TreeSet<String> folded = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    folded.addAll(List.of("B", "a"));
    Properties props = new Properties();
    props.setProperty("k", "v");
    BitSet bits = new BitSet();
    bits.set(3);
    bits.set(300);
    IOException failure = new IOException("outer", new IllegalStateException("inner"));
    failure.addSuppressed(new RuntimeException("suppressed"));
    EnumMap<DayOfWeek, String> days = new EnumMap<>(DayOfWeek.class);
    days.put(DayOfWeek.MONDAY, "m");
    return List.of(
        List.of(1, 2, 3),
        new ArrayList<>(List.of("a", 2L, 3.5, 'c', (short) 4, (byte) 5, 6.5f, true)),
        new Date(123_456_789L),
        URI.create("https://example.com/a?b#c"),
        Locale.CANADA_FRENCH,
        UUID.fromString("123e4567-e89b-12d3-a456-426614174000"),
        BigInteger.TWO.pow(1000).negate(),
        new BigDecimal("-12345678901234567890.0987654321"),
        LocalDate.of(2024, 2, 29),
        LocalDateTime.of(2024, 2, 29, 12, 30),
        ZonedDateTime.of(2024, 2, 29, 12, 30, 0, 0, ZoneId.of("Europe/Paris")),
        OffsetDateTime.of(2024, 2, 29, 12, 30, 0, 0, ZoneOffset.ofHours(-3)),
        Instant.ofEpochSecond(1_700_000_000L, 5),
        Duration.ofMillis(12_345),
        Period.of(1, 2, 3),
        ZoneId.of("America/New_York"),
        DayOfWeek.FRIDAY,
        Month.MAY,
        TimeUnit.SECONDS,
        Colour.GREEN,
        new HashMap<>(Map.of("k", List.of(1), "j", Map.of(2, 3))),
        accessOrder,
        reverse,
        folded,
        new HashSet<>(Set.of("p", "q")),
        new LinkedHashSet<>(List.of(3, 1, 2)),
        new TreeSet<>(List.of(5, 4)),
        new ArrayDeque<>(List.of(1, 2)),
        new LinkedList<>(List.of("l", "m")),
        new Vector<>(List.of(9)),
        new Hashtable<>(Map.of("h", 1)),
        props,
        new ConcurrentHashMap<>(Map.of("c", 1, "d", 2)),
        new CopyOnWriteArrayList<>(List.of(7)),
        days,
        EnumSet.of(Colour.RED),
        new IdentityHashMap<>(Map.of("i", 1)),
        new PriorityQueue<>(List.of(3, 1, 2)),
        bits,
        new StringBuilder("sb"),
        new AtomicLong(77),
        new AtomicReference<>("ref"),
        Set.of(1, 2, 3),
        Map.of("a", 1, "b", 2, "c", 3),
        List.of(),
        Collections.emptyMap(),
        Collections.singletonList("s"),
        Collections.singletonMap("k", "v"),
        Collections.unmodifiableList(new ArrayList<>(List.of(1))),
        Collections.unmodifiableMap(new HashMap<>(Map.of(1, 2))),
        Collections.unmodifiableSortedSet(new TreeSet<>(List.of(1))),
        Collections.synchronizedList(new ArrayList<>(List.of(2))),
        Collections.synchronizedMap(new HashMap<>(Map.of(3, 4))),
        Arrays.asList(1, "two", null),
        Collections.nCopies(3, "n"),
        new java.util.AbstractMap.SimpleEntry<>("e", 1),
        new Object[] {null, new int[] {1, 2}, new long[] {3}, new double[] {4.5}},
        new char[] {'x', 'y'},
        new boolean[] {true, false},
        new short[] {1},
        new float[] {1.5f},
        new byte[][] {{1}, {2, 3}},
        new String[][] {{"a"}, {"b", null}},
        String.class,
        int.class,
        failure,
        new Point(1, 2, "p"),
        new Shape(new Point(0, 0, "o"), List.of(new Point(1, 1, "a"), new Point(2, 2, "b"))),
        new Custom(5, "five"),
        new Ext(List.of("inside", new Ext(null))),
        new GregorianCalendar(TimeZone.getTimeZone("Asia/Tokyo"), Locale.JAPAN),
        new DecimalFormat("#,##0.00"),
        Pattern.compile("a+b"),
        new File("/tmp/x"),
        new java.net.InetSocketAddress("127.0.0.1", 80));
  }

  @Test
  void honestStreamsOfManyJdkTypesDecodeAsBefore() throws Exception {
    for (Object v : honestValues()) {
      byte[] b = encode(ANY, v);
      Object back = ANY.decode(b, 0, b.length);
      assertSameValue(v, back);
    }
  }

  @Test
  void theAllowListDecodesTheJdkValueTypesCollectionsArraysAndRecords() throws Exception {
    JavaSerializationCodec allowing = JavaSerializationCodec.allowing();
    LinkedHashMap<String, Integer> lhm = new LinkedHashMap<>(Map.of("a", 1));
    TreeMap<String, Integer> reverse = new TreeMap<>(Collections.reverseOrder());
    reverse.put("x", 1);
    TreeSet<String> folded = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    folded.add("A");
    List<Object> allowed =
        List.of(
            "s",
            1,
            List.of(1, 2L, 3.5, 'c', (short) 4, (byte) 5, 6.5f, true),
            BigInteger.TEN.pow(100),
            new BigDecimal("1.25"),
            LocalDate.of(2024, 1, 1),
            ZonedDateTime.of(2024, 2, 29, 12, 30, 0, 0, ZoneId.of("Europe/Paris")),
            Instant.EPOCH,
            Duration.ofSeconds(3),
            ZoneOffset.UTC,
            DayOfWeek.MONDAY,
            TimeUnit.DAYS,
            UUID.randomUUID(),
            new ArrayList<>(List.of(1)),
            new LinkedList<>(List.of(1)),
            new ArrayDeque<>(List.of(1)),
            new HashMap<>(Map.of("k", new HashSet<>(Set.of(1)))),
            lhm,
            reverse,
            folded,
            new TreeMap<>(Map.of(1, 2)),
            new LinkedHashSet<>(List.of(1)),
            new TreeSet<>(List.of(1)),
            List.of(1, 2, 3),
            Set.of("a"),
            Map.of("a", List.of()),
            Collections.emptyList(),
            Collections.emptySet(),
            Collections.singleton(1),
            Collections.singletonMap(1, 2),
            Collections.unmodifiableList(new ArrayList<>(List.of(1))),
            Collections.unmodifiableSet(new HashSet<>(Set.of(1))),
            Collections.synchronizedMap(new HashMap<>(Map.of(1, 1))),
            Arrays.asList(1, 2),
            Arrays.asList(new Object[] {"o", 1}),
            new java.util.AbstractMap.SimpleImmutableEntry<>("k", 1),
            new int[] {1},
            new Object[] {"x", new long[] {2}},
            new String[] {"y"},
            new Point(1, 2, "p"),
            new Shape(new Point(0, 0, "o"), List.of(new Point(1, 1, "a"))),
            new Point[] {new Point(3, 4, null)});
    for (Object v : allowed) {
      byte[] b = encode(allowing, v);
      assertSameValue(v, allowing.decode(b, 0, b.length));
    }
  }

  // ---- attacks, each refused with its exact type

  /** A HashSet holding a list that contains itself: hashing it overflowed the stack. */
  static byte[] selfListInHashSet() throws IOException {
    List<Object> list = new ArrayList<>();
    Set<Object> set = new HashSet<>();
    set.add(list); // hashed while empty
    list.add(list);
    return encode(ANY, set);
  }

  /** Nested HashSets that share their elements: hashing them takes 2^levels steps. */
  static byte[] serialDos(int levels) throws IOException {
    Set<Object> root = new HashSet<>();
    Set<Object> s1 = root;
    Set<Object> s2 = new HashSet<>();
    for (int i = 0; i < levels; i++) {
      Set<Object> t1 = new HashSet<>();
      Set<Object> t2 = new HashSet<>();
      t1.add("foo"); // t1 and t2 differ, so both stay in each set
      s1.add(t1);
      s1.add(t2);
      s2.add(t1);
      s2.add(t2);
      s1 = t1;
      s2 = t2;
    }
    return encode(ANY, root);
  }

  /** Lists of lists, each level ten references to the level below: 10^levels when expanded. */
  static byte[] billionLaughs(int levels) throws IOException {
    Object level = "lol";
    for (int i = 0; i < levels; i++) {
      level = new ArrayList<>(Collections.nCopies(10, level));
    }
    return encode(ANY, level);
  }

  private static final int TC_NULL = 0x70;
  private static final int TC_REFERENCE = 0x71;
  private static final int TC_CLASSDESC = 0x72;
  private static final int TC_OBJECT = 0x73;
  private static final int TC_ARRAY = 0x75;
  private static final int TC_BLOCKDATA = 0x77;
  private static final int TC_ENDBLOCKDATA = 0x78;
  private static final int TC_LONGSTRING = 0x7C;

  /**
   * {@code n} ArrayLists, each holding the next, written by hand (ObjectOutputStream would need a
   * huge stack); the innermost claims {@code innermostSize} elements and holds none.
   */
  static byte[] nestedLists(int n, int innermostSize) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream d = new DataOutputStream(bytes);
    d.writeShort(0xACED);
    d.writeShort(5);
    for (int i = 0; i < n; i++) {
      d.writeByte(TC_OBJECT);
      if (i == 0) {
        d.writeByte(TC_CLASSDESC);
        d.writeUTF("java.util.ArrayList");
        d.writeLong(8683452581122892189L);
        d.writeByte(0x03); // SC_SERIALIZABLE | SC_WRITE_METHOD
        d.writeShort(1);
        d.writeByte('I');
        d.writeUTF("size");
        d.writeByte(TC_ENDBLOCKDATA);
        d.writeByte(TC_NULL);
      } else {
        d.writeByte(TC_REFERENCE);
        d.writeInt(0x7E0000);
      }
      int size = i < n - 1 ? 1 : innermostSize;
      d.writeInt(size);
      d.writeByte(TC_BLOCKDATA);
      d.writeByte(4);
      d.writeInt(size);
    }
    for (int i = 0; i < n; i++) {
      d.writeByte(TC_ENDBLOCKDATA);
    }
    return bytes.toByteArray();
  }

  /** A byte array that claims 1 GiB and carries 64 bytes. */
  static byte[] gibByteArrayClaim() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream d = new DataOutputStream(bytes);
    d.writeShort(0xACED);
    d.writeShort(5);
    d.writeByte(TC_ARRAY);
    d.writeByte(TC_CLASSDESC);
    d.writeUTF("[B");
    d.writeLong(-5984413125824719648L);
    d.writeByte(0x02);
    d.writeShort(0);
    d.writeByte(TC_ENDBLOCKDATA);
    d.writeByte(TC_NULL);
    d.writeInt(1 << 30);
    d.write(new byte[64]);
    return bytes.toByteArray();
  }

  /** A string that claims 1 GiB. */
  static byte[] gibStringClaim() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream d = new DataOutputStream(bytes);
    d.writeShort(0xACED);
    d.writeShort(5);
    d.writeByte(TC_LONGSTRING);
    d.writeLong(1L << 30);
    d.writeBytes("abc");
    return bytes.toByteArray();
  }

  /** HashSets chained through back-references: shallow in the stream, 5,000 deep as a graph. */
  static byte[] deepThroughReferences(int levels) throws Exception {
    return onLargeStack(
        () -> {
          List<Object> all = new ArrayList<>();
          Set<Object> previous = new HashSet<>();
          all.add(previous);
          for (int i = 0; i < levels; i++) {
            Set<Object> next = new HashSet<>();
            next.add(previous);
            all.add(next);
            previous = next;
          }
          return encode(ANY, all);
        });
  }

  /** ArrayLists nested {@code n} deep, written by the real ObjectOutputStream. */
  static byte[] realNestedLists(int n) throws Exception {
    return onLargeStack(
        () -> {
          Object v = "core";
          for (int i = 0; i < n; i++) {
            v = new ArrayList<>(List.of(v));
          }
          return encode(ANY, v);
        });
  }

  static <T> T onLargeStack(Callable<T> body) throws Exception {
    Object[] out = new Object[2];
    Thread t =
        Thread.ofPlatform()
            .stackSize(512L << 20)
            .start(
                () -> {
                  try {
                    out[0] = body.call();
                  } catch (Throwable e) {
                    out[1] = e;
                  }
                });
    t.join();
    if (out[1] != null) {
      throw new AssertionError("on a large stack: " + out[1], (Throwable) out[1]);
    }
    @SuppressWarnings("unchecked")
    T result = (T) out[0];
    return result;
  }

  /** An attack and what it must be refused with. */
  record Attack(String name, byte[] message, Class<? extends IOException> refusal, String limit) {}

  static List<Attack> attacks() throws Exception {
    return List.of(
        new Attack(
            "a HashSet holding a list that contains itself",
            selfListInHashSet(),
            DecodeLimitException.class,
            "maxDepth"),
        new Attack("SerialDOS, 100 levels", serialDos(100), DecodeLimitException.class, "maxWork"),
        new Attack(
            "billion laughs, 10^9 expanded",
            billionLaughs(9),
            DecodeLimitException.class,
            "maxWork"),
        new Attack(
            "nesting just past the depth limit (real ObjectOutputStream)",
            realNestedLists(DecodeLimits.DEFAULT_MAX_DEPTH + 1),
            DecodeLimitException.class,
            "maxDepth"),
        new Attack(
            "100,000 nested lists",
            nestedLists(100_000, 0),
            DecodeLimitException.class,
            "maxDepth"),
        new Attack(
            "5,000 HashSets deep through back-references",
            deepThroughReferences(5_000),
            DecodeLimitException.class,
            "maxDepth"),
        new Attack(
            "a 2 MB BigInteger",
            encode(ANY, List.of(BigInteger.ONE.shiftLeft(16_000_000))),
            DecodeLimitException.class,
            "maxIntDigits"),
        new Attack(
            "a BigDecimal of 5,000 digits",
            encode(ANY, List.of(new BigDecimal(BigInteger.TEN.pow(5_000), 3))),
            DecodeLimitException.class,
            "maxIntDigits"),
        new Attack(
            "a byte array claiming 1 GiB",
            gibByteArrayClaim(),
            StreamCorruptedException.class,
            null),
        new Attack(
            "a string claiming 1 GiB", gibStringClaim(), StreamCorruptedException.class, null),
        new Attack(
            "an ArrayList claiming 1 GiB elements",
            nestedLists(1, 1 << 30),
            StreamCorruptedException.class,
            null));
  }

  private static IOException refusal(Codec codec, Attack a) {
    IOException e =
        assertThrows(IOException.class, () -> codec.decode(a.message(), 0, a.message().length));
    assertSame(a.refusal(), e.getClass(), () -> a.name() + ": " + e);
    if (a.limit() != null) {
      assertEquals(a.limit(), ((DecodeLimitException) e).limit(), a.name());
    }
    return e;
  }

  /** Runs {@code body} on a platform thread of the default stack size, then on a virtual one. */
  static void onBothKindsOfThread(Callable<?> body) throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      Throwable[] failure = new Throwable[1];
      Runnable r =
          () -> {
            try {
              body.call();
            } catch (Throwable e) {
              failure[0] = e;
            }
          };
      Thread t = virtual ? Thread.ofVirtual().start(r) : Thread.ofPlatform().start(r);
      t.join();
      if (failure[0] != null) {
        throw new AssertionError(
            (virtual ? "on a virtual thread: " : "on a platform thread: ") + failure[0],
            failure[0]);
      }
    }
  }

  @Test
  void theHandWrittenStreamsAreWhatObjectInputStreamReads() throws Exception {
    byte[] three = nestedLists(3, 0);
    assertEquals(List.of(List.of(List.of())), ANY.decode(three, 0, three.length));
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(three))) {
      assertEquals(List.of(List.of(List.of())), in.readObject());
    }
  }

  @Test
  void everyAttackIsRefusedWithItsTypeOnBothKindsOfThread() throws Exception {
    List<Attack> attacks = attacks();
    onBothKindsOfThread(
        () -> {
          for (Attack a : attacks) {
            for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
              refusal(c, a);
            }
          }
          byte[] honest = encode(ANY, List.of("still", "works"));
          assertEquals(List.of("still", "works"), ANY.decode(honest, 0, honest.length));
          return null;
        });
  }

  @Test
  void afterEachRefusalTheNextHonestMessageArrivesOverThePipe() throws Exception {
    List<Attack> attacks = attacks();
    onBothKindsOfThread(
        () -> {
          for (Codec codec : List.of(ANY, JavaSerializationCodec.allowing())) {
            try (Pipe pipe = Pipe.open(true, codec)) {
              for (Attack a : attacks) {
                Thread sender = // the pipe holds 64 KiB; some attacks are larger
                    Thread.ofPlatform()
                        .start(
                            () -> {
                              try {
                                pipe.conn1().sendBytes(a.message());
                                pipe.conn1().send(List.of("honest", a.name()));
                              } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                              }
                            });
                IOException e = assertThrows(IOException.class, () -> pipe.conn2().recv());
                assertSame(a.refusal(), e.getClass(), a.name());
                assertEquals(List.of("honest", a.name()), pipe.conn2().recv());
                sender.join();
              }
            }
          }
          return null;
        });
  }

  @Test
  void serialDosIsRefusedWithin100Milliseconds() throws Exception {
    byte[] dos = serialDos(100);
    long[] nanos = new long[7];
    for (int i = 0; i < nanos.length; i++) {
      long t0 = System.nanoTime();
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> ANY.decode(dos, 0, dos.length));
      nanos[i] = System.nanoTime() - t0;
      assertEquals("maxWork", e.limit());
    }
    long first = nanos[0];
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    System.out.printf(
        "SerialDOS (100 levels, %d bytes) refused in %.2f ms (first, cold), %.2f ms (median)%n",
        dos.length, first / 1e6, sorted[sorted.length / 2] / 1e6);
    assertTrue(sorted[sorted.length / 2] < 100_000_000L, "median " + sorted[3] / 1e6 + " ms");
  }

  @Test
  void nestingUpToTheLimitDecodesOnBothKindsOfThread() throws Exception {
    byte[] deep = realNestedLists(DecodeLimits.DEFAULT_MAX_DEPTH - 10);
    byte[] chain = deepThroughReferences(900);
    onBothKindsOfThread(
        () -> {
          Object v = ANY.decode(deep, 0, deep.length);
          int levels = 0;
          while (v instanceof List<?> l) {
            v = l.getFirst();
            levels++;
          }
          assertEquals(DecodeLimits.DEFAULT_MAX_DEPTH - 10, levels);
          assertEquals("core", v);
          List<?> sets = (List<?>) ANY.decode(chain, 0, chain.length);
          assertEquals(901, sets.size());
          return null;
        });
  }

  @Test
  void selfReferencingStructuresStayLegal() throws Exception {
    List<Object> list = new ArrayList<>();
    list.add("x");
    list.add(list);
    Map<String, Object> map = new HashMap<>();
    map.put("self", map);
    map.put("list", list);
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
      byte[] b = encode(c, map);
      @SuppressWarnings("unchecked")
      Map<String, Object> back = (Map<String, Object>) c.decode(b, 0, b.length);
      assertSame(back, back.get("self"));
      List<?> l = (List<?>) back.get("list");
      assertSame(l, l.get(1));
      assertEquals("x", l.getFirst());
      byte[] again = encode(c, back); // and it goes back out
      assertInstanceOf(Map.class, c.decode(again, 0, again.length));
    }
  }

  @Test
  void limitsCanBeChangedAndCombineWithTheAllowList() throws Exception {
    DecodeLimits d = DecodeLimits.defaults();
    Object wide = "x";
    for (int i = 0; i < 3; i++) {
      wide = new ArrayList<>(Collections.nCopies(10, wide)); // 1,111 expanded
    }
    assertLimit(d.withMaxDepth(3), List.of(List.of(List.of(List.of("deep")))), "maxDepth");
    assertLimit(d.withMaxObjects(50), new ArrayList<>(Collections.nCopies(60, 1)), "maxObjects");
    assertLimit(d.withMaxArrayLength(10), new int[11], "maxArrayLength");
    assertLimit(
        d.withMaxArrayLength(10), new ArrayList<>(Collections.nCopies(11, "s")), "maxArrayLength");
    Set<Integer> hundred = new HashSet<>();
    for (int i = 0; i < 100; i++) {
      hundred.add(i);
    }
    assertLimit(d.withMaxArrayLength(10), hundred, "maxArrayLength");
    assertLimit(d.withMaxIntDigits(20), List.of(BigInteger.TEN.pow(30)), "maxIntDigits");
    assertLimit(d.withMaxWork(1_000), wide, "maxWork");
    DecodeLimits small =
        d.withMaxDepth(5).withMaxObjects(60).withMaxArrayLength(10).withMaxIntDigits(20);
    for (JavaSerializationCodec c :
        List.of(
            JavaSerializationCodec.withLimits(small),
            JavaSerializationCodec.allowing().limitedTo(small))) {
      assertEquals(small, c.limits());
      byte[] ok =
          encode(
              c,
              List.of(
                  List.of(BigInteger.TEN.pow(15)),
                  new int[10],
                  new HashSet<>(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)),
                  new HashMap<>(
                      Map.of(1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10))));
      assertInstanceOf(List.class, c.decode(ok, 0, ok.length));
    }
    assertEquals(d, ANY.limits());
    assertEquals(d, JavaSerializationCodec.allowing().limits());
    assertThrows(IllegalArgumentException.class, () -> d.withMaxDepth(0));
    assertThrows(IllegalArgumentException.class, () -> d.withMaxWork(0));
    assertEquals(1_787, d.maxIntBytes());
  }

  private static void assertLimit(DecodeLimits limits, Object value, String limit)
      throws IOException {
    byte[] b = encode(ANY, value);
    for (Codec c :
        List.of(
            JavaSerializationCodec.withLimits(limits),
            JavaSerializationCodec.allowing().limitedTo(limits))) {
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> c.decode(b, 0, b.length));
      assertEquals(limit, e.limit(), e.getMessage());
      assertTrue(e.getMessage().startsWith(limit + " "), e.getMessage());
    }
    assertInstanceOf(value.getClass(), ANY.decode(b, 0, b.length), "fine by default");
  }

  @Test
  void intsUpToTheDigitLimitDecode() throws Exception {
    BigInteger largest =
        BigInteger.TEN.pow(DecodeLimits.DEFAULT_MAX_INT_DIGITS).subtract(BigInteger.ONE);
    byte[] b = encode(ANY, List.of(largest, largest.negate(), new BigDecimal(largest, -7)));
    assertEquals(
        List.of(largest, largest.negate(), new BigDecimal(largest, -7)),
        ANY.decode(b, 0, b.length));
  }

  // ---- trust: the allow-list

  /** A class that is not on the allow-list; its readObject must never run when refused. */
  static final class Gadget implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    static volatile int ran;
    String command = "rm -rf /";

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      ran++;
    }
  }

  /** A record with a component of a class that is not allowed. */
  record HoldsGadget(Gadget gadget) implements Serializable {}

  /** A record whose components are open: what arrives is checked. */
  record Box(Object content) implements Serializable {}

  @Test
  void theAllowListRefusesOtherClassesByName() throws Exception {
    JavaSerializationCodec allowing = JavaSerializationCodec.allowing();
    Map<Object, String> refused = new LinkedHashMap<>();
    refused.put(new Gadget(), Gadget.class.getName());
    refused.put(List.of(1, new Gadget()), Gadget.class.getName());
    refused.put(new HoldsGadget(new Gadget()), HoldsGadget.class.getName());
    refused.put(new Box(new Gadget()), Gadget.class.getName());
    refused.put(new Vector<>(List.of(1)), "java.util.Vector");
    refused.put(new PriorityQueue<>(List.of(1, 2)), "java.util.PriorityQueue");
    refused.put(Colour.RED, Colour.class.getName());
    refused.put(new Gadget[] {new Gadget()}, Gadget[].class.getName());
    refused.put(new Ext("x"), Ext.class.getName());
    refused.put(new Date(), "java.util.Date");
    int before = Gadget.ran;
    for (Map.Entry<Object, String> r : refused.entrySet()) {
      byte[] b = encode(ANY, r.getKey());
      InvalidClassException e =
          assertThrows(InvalidClassException.class, () -> allowing.decode(b, 0, b.length));
      assertSame(InvalidClassException.class, e.getClass());
      assertEquals(r.getValue(), e.classname, e.getMessage());
      assertTrue(e.getMessage().contains("allow-list"), e.getMessage());
    }
    assertEquals(before, Gadget.ran, "a refused class's readObject never runs");
    assertEquals(new Box(List.of(1)), roundTrip(allowing, new Box(List.of(1))));
  }

  @Test
  void patternsAllowMoreAndTheFirstThatMatchesDecides() throws Exception {
    String gadget = Gadget.class.getName();
    for (String pattern :
        List.of(gadget, "io.jpipe.codec.*", "io.jpipe.**", "io.jpipe.codec.Hostile*")) {
      JavaSerializationCodec c = JavaSerializationCodec.allowing(pattern);
      assertInstanceOf(Gadget.class, roundTrip(c, new Gadget()), pattern);
      assertInstanceOf(HoldsGadget.class, roundTrip(c, new HoldsGadget(new Gadget())), pattern);
    }
    JavaSerializationCodec noMaps = JavaSerializationCodec.allowing("!java.util.HashMap");
    byte[] b = encode(ANY, new HashMap<>(Map.of(1, 2)));
    InvalidClassException e =
        assertThrows(InvalidClassException.class, () -> noMaps.decode(b, 0, b.length));
    assertEquals("java.util.HashMap", e.classname);
    assertEquals(List.of(1), roundTrip(noMaps, List.of(1)));
    assertThrows(IllegalArgumentException.class, () -> JavaSerializationCodec.allowing("a;b"));
    assertThrows(IllegalArgumentException.class, () -> JavaSerializationCodec.allowing(" "));
    assertTrue(JavaSerializationCodec.defaultAllowList().contains("java.util.ArrayList"));
    assertTrue(JavaSerializationCodec.defaultAllowList().contains("java.time.**"));
    assertThrows(
        UnsupportedOperationException.class,
        () -> JavaSerializationCodec.defaultAllowList().add("x"));
  }

  @Test
  void aRefusedClassOverThePipeLeavesTheConnectionInStep() throws Exception {
    try (Pipe pipe = Pipe.open(true, JavaSerializationCodec.allowing())) {
      pipe.conn1().sendBytes(encode(ANY, List.of(new Gadget())));
      pipe.conn1().send(List.of("after"));
      assertThrows(InvalidClassException.class, () -> pipe.conn2().recv());
      assertEquals(List.of("after"), pipe.conn2().recv());
    }
  }

  @Test
  void theAllowingCodecTravelsWithItsPatternsAndLimits() throws Exception {
    JavaSerializationCodec c =
        JavaSerializationCodec.allowing("io.jpipe.codec.*")
            .limitedTo(DecodeLimits.defaults().withMaxDepth(9));
    JavaSerializationCodec back;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(c);
    }
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = (JavaSerializationCodec) in.readObject();
    }
    assertEquals(c.toString(), back.toString());
    assertEquals(9, back.limits().maxDepth());
    assertInstanceOf(Gadget.class, roundTrip(back, new Gadget()));
    byte[] vector = encode(ANY, new Vector<>());
    assertThrows(InvalidClassException.class, () -> back.decode(vector, 0, vector.length));
  }

  /** A class whose readObject fails with an unchecked exception. */
  static final class Throwing implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      throw new IllegalStateException("refuses to be read");
    }
  }

  @Test
  void anUncheckedExceptionFromReadObjectIsAnInvalidObjectException() throws Exception {
    byte[] b = encode(ANY, List.of(new Throwing()));
    java.io.InvalidObjectException e =
        assertThrows(java.io.InvalidObjectException.class, () -> ANY.decode(b, 0, b.length));
    assertInstanceOf(IllegalStateException.class, e.getCause());
    assertFalse(e instanceof DecodeLimitException);
  }

  private static Object roundTrip(Codec c, Object v) throws IOException {
    byte[] b = encode(ANY, v);
    return c.decode(b, 0, b.length);
  }

  // ---- helpers

  static byte[] encode(Codec codec, Object o) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    codec.encode(o, out);
    return out.toByteArray();
  }

  private static void assertSameValue(Object expected, Object actual) {
    assertNotNull(actual, () -> "decoded null for " + expected);
    assertEquals(expected.getClass(), actual.getClass());
    switch (expected) {
      case Object[] a -> assertTrue(Arrays.deepEquals(a, (Object[]) actual), Arrays.toString(a));
      case int[] a -> assertArrayEquals(a, (int[]) actual);
      case char[] a -> assertArrayEquals(a, (char[]) actual);
      case boolean[] a -> assertArrayEquals(a, (boolean[]) actual);
      case short[] a -> assertArrayEquals(a, (short[]) actual);
      case float[] a -> assertArrayEquals(a, (float[]) actual);
      case Throwable t -> {
        Throwable u = (Throwable) actual;
        assertEquals(t.getMessage(), u.getMessage());
        assertEquals(t.getCause().getMessage(), u.getCause().getMessage());
        assertEquals(t.getSuppressed().length, u.getSuppressed().length);
        assertEquals(t.getStackTrace().length, u.getStackTrace().length);
      }
      case StringBuilder sb -> assertEquals(sb.toString(), actual.toString());
      case Pattern p -> assertEquals(p.pattern(), ((Pattern) actual).pattern());
      case AtomicLong a -> assertEquals(a.get(), ((AtomicLong) actual).get());
      case AtomicReference<?> a -> assertEquals(a.get(), ((AtomicReference<?>) actual).get());
      case PriorityQueue<?> q ->
          assertEquals(List.copyOf(q), List.copyOf((PriorityQueue<?>) actual));
      case ArrayDeque<?> q -> assertEquals(List.copyOf(q), List.copyOf((ArrayDeque<?>) actual));
      case IdentityHashMap<?, ?> m -> assertEquals(m.size(), ((Map<?, ?>) actual).size());
      default -> assertEquals(expected, actual);
    }
  }
}
