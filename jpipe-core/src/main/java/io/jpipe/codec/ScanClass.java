package io.jpipe.codec;

import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What {@link StreamScan} learns of a class a stream names, by name and by reflection (the class is
 * loaded, never initialised, as {@link java.io.ObjectInputStream} would load it): whether it is a
 * record, and how its {@code hashCode} works, so the scan can compute the hash an instance will
 * have and charge what hashing and colliding keys cost.
 *
 * <p>The kinds: {@link #IDENTITY} (Object's hashCode: random, unaffected by the stream); the JDK
 * value and collection classes whose hashCode the scan computes exactly from the stream ({@link
 * #BOXED}, {@link #LIST}, {@link #RECORD} and the others); {@link #WORST} (a JDK class whose hash
 * depends on its contents in a way the scan does not compute: assumed to collide with anything);
 * {@link #OPAQUE} (a class of the application with its own hashCode: charged for visiting its
 * contents, its hash taken as well spread).
 */
final class ScanClass {
  static final byte IDENTITY = 0;
  static final byte OPAQUE = 1;
  static final byte WORST = 2;
  static final byte BOXED = 3;
  static final byte BIG_INTEGER = 4;
  static final byte BIG_DECIMAL = 5;
  static final byte UUID = 6;
  static final byte DATE = 7;
  static final byte TIME = 8;
  static final byte LIST = 9;
  static final byte SET = 10;
  static final byte MAP = 11;
  static final byte COLL_SER = 12;
  static final byte CONSTANT = 13;
  static final byte FIELD = 14;
  static final byte SINGLETON_LIST = 15;
  static final byte ENTRY = 16;
  static final byte ARRAYS_AS_LIST = 17;
  static final byte RECORD = 18;

  /**
   * Classes whose hash bins {@code HashMap} searches in order (the class is {@code Comparable} to
   * itself, consistently with equals): a bin of colliding keys all of one of these costs a log, not
   * a scan. The code is the index + 1; 0 for any other class.
   */
  private static final java.util.List<String> ORDERED =
      java.util.List.of(
          "java.lang.String",
          "java.lang.Integer",
          "java.lang.Long",
          "java.lang.Short",
          "java.lang.Byte",
          "java.lang.Character",
          "java.lang.Boolean",
          "java.lang.Float",
          "java.lang.Double",
          "java.math.BigInteger",
          "java.util.UUID");

  /** {@link #ORDERED}'s code for strings. */
  static final byte ORDERED_STRING = 1;

  /** Classes whose hashCode one of their fields decides, by the class that declares hashCode. */
  private static final Map<String, ScanClass> BY_DECLARER =
      Map.ofEntries(
          Map.entry("java.lang.Integer", simple(BOXED)),
          Map.entry("java.lang.Long", simple(BOXED)),
          Map.entry("java.lang.Short", simple(BOXED)),
          Map.entry("java.lang.Byte", simple(BOXED)),
          Map.entry("java.lang.Character", simple(BOXED)),
          Map.entry("java.lang.Boolean", simple(BOXED)),
          Map.entry("java.lang.Float", simple(BOXED)),
          Map.entry("java.lang.Double", simple(BOXED)),
          Map.entry("java.math.BigInteger", simple(BIG_INTEGER)),
          Map.entry("java.math.BigDecimal", simple(BIG_DECIMAL)),
          Map.entry("java.util.UUID", simple(UUID)),
          Map.entry("java.util.Date", simple(DATE)),
          Map.entry("java.util.ArrayList", simple(LIST)),
          Map.entry("java.util.AbstractList", simple(LIST)),
          Map.entry("java.util.concurrent.CopyOnWriteArrayList", simple(LIST)),
          Map.entry("java.util.AbstractSet", simple(SET)),
          Map.entry("java.util.AbstractMap", simple(MAP)),
          Map.entry("java.util.Hashtable", simple(MAP)),
          Map.entry("java.util.concurrent.ConcurrentHashMap", simple(MAP)),
          Map.entry("java.util.EnumMap", simple(MAP)),
          Map.entry("java.util.Collections$EmptyList", constant(1)),
          Map.entry("java.util.Collections$EmptySet", constant(0)),
          Map.entry("java.util.Collections$EmptyMap", constant(0)),
          Map.entry("java.util.Collections$SingletonList", named(SINGLETON_LIST, "element", null)),
          Map.entry("java.util.Collections$SingletonSet", named(FIELD, "element", null)),
          Map.entry("java.util.Collections$SingletonMap", named(ENTRY, "k", "v")),
          Map.entry("java.util.AbstractMap$SimpleEntry", named(ENTRY, "key", "value")),
          Map.entry("java.util.AbstractMap$SimpleImmutableEntry", named(ENTRY, "key", "value")),
          Map.entry("java.util.Collections$UnmodifiableSet", named(FIELD, "c", null)),
          Map.entry("java.util.Collections$UnmodifiableSequencedSet", named(FIELD, "c", null)),
          Map.entry("java.util.Collections$UnmodifiableList", named(FIELD, "list", null)),
          Map.entry("java.util.Collections$UnmodifiableMap", named(FIELD, "m", null)),
          Map.entry("java.util.Collections$SynchronizedSet", named(FIELD, "c", null)),
          Map.entry("java.util.Collections$SynchronizedList", named(FIELD, "list", null)),
          Map.entry("java.util.Collections$SynchronizedMap", named(FIELD, "m", null)));

  /** Where the field a wrapper's hash depends on is declared, if not in the wrapper's class. */
  private static final Map<String, String> OWNERS =
      Map.of(
          "java.util.Collections$UnmodifiableSet", "java.util.Collections$UnmodifiableCollection",
          "java.util.Collections$UnmodifiableSequencedSet",
              "java.util.Collections$UnmodifiableCollection",
          "java.util.Collections$SynchronizedSet", "java.util.Collections$SynchronizedCollection");

  /** Classes decided by their own name: serial proxies, and a list whose elements are a field. */
  private static final Map<String, ScanClass> BY_NAME =
      Map.of(
          "java.util.CollSer",
          simple(COLL_SER),
          "java.time.Ser",
          simple(TIME),
          "java.util.Arrays$ArrayList",
          new ScanClass(
              ARRAYS_AS_LIST,
              false,
              true,
              (byte) 0,
              0,
              "a",
              null,
              "java.util.Arrays$ArrayList",
              null,
              null));

  private static final ScanClass UNLOADABLE = new ScanClass(WORST, false, true, 0, null, null);

  /** Proxy classes: hashCode is their handler's, of the application. */
  static final ScanClass PROXY = new ScanClass(OPAQUE, false, false, 0, null, null);

  /** Loaded classes, by name (the loader is fixed); bounded, since names come from peers. */
  private static final Map<String, ScanClass> CACHE = new ConcurrentHashMap<>();

  private static final int CACHE_MAX = 4_096;

  final byte kind;
  final boolean record;

  /** A class of the JDK (rather than the application's). */
  final boolean jdk;

  /** The {@link #ORDERED} code. */
  final byte ordered;

  /** CONSTANT: the hash. */
  final int constant;

  /** The field(s) the hash depends on (FIELD, SINGLETON_LIST, ENTRY, ARRAYS_AS_LIST). */
  final String field1;

  final String field2;

  /**
   * The class that declares the fields the hash depends on: only its class description's values
   * count (a stream may describe other classes in the chain, whose values ObjectInputStream reads
   * and drops).
   */
  final String owner;

  /** RECORD: components in declaration order, and which are {@code boolean}. */
  final String[] components;

  final boolean[] booleanComponents;

  /**
   * RECORD: the generated hashCode is {@code 31 * h + hash(c)} over the components c, that is the
   * sum of each component's hash times its weight, {@code 31} to the power of the number of
   * components after it; with every component absent (its default) the sum is {@code recordBase}.
   */
  final int[] weights;

  final int recordBase;

  private ScanClass(
      byte kind, boolean record, boolean jdk, int constant, String field1, String field2) {
    this(kind, record, jdk, (byte) 0, constant, field1, field2, null, null, null);
  }

  private ScanClass(
      byte kind,
      boolean record,
      boolean jdk,
      byte ordered,
      int constant,
      String field1,
      String field2,
      String owner,
      String[] components,
      boolean[] booleanComponents) {
    this.kind = kind;
    this.record = record;
    this.jdk = jdk;
    this.ordered = ordered;
    this.constant = constant;
    this.field1 = field1;
    this.field2 = field2;
    this.owner = owner;
    this.components = components;
    this.booleanComponents = booleanComponents;
    int n = components == null ? 0 : components.length;
    this.weights = new int[n];
    int weight = 1;
    int base = 0;
    for (int i = n - 1; i >= 0; i--) {
      weights[i] = weight;
      if (booleanComponents[i]) {
        base += 1237 * weight; // Boolean.hashCode(false)
      }
      weight *= 31;
    }
    this.recordBase = base;
  }

  /** For each of these field names, the index of the component of that name, or -1. */
  int[] componentsOf(String[] fieldNames) {
    int[] of = new int[fieldNames.length];
    for (int i = 0; i < fieldNames.length; i++) {
      of[i] = java.util.Arrays.asList(components).indexOf(fieldNames[i]);
    }
    return of;
  }

  private static ScanClass simple(byte kind) {
    return new ScanClass(kind, false, true, 0, null, null);
  }

  private static ScanClass constant(int hash) {
    return new ScanClass(CONSTANT, false, true, hash, null, null);
  }

  private static ScanClass named(byte kind, String field1, String field2) {
    return new ScanClass(kind, false, true, 0, field1, field2);
  }

  /** Whether a hash computed by this kind depends on contents (the scan visits them to hash). */
  boolean structural() {
    return kind != IDENTITY;
  }

  /**
   * What the scan knows of the class of this name, as {@code loader} resolves it. Loaded classes
   * are kept by name: the codec resolves every name through one loader.
   */
  static ScanClass of(String name, ClassLoader loader) {
    ScanClass known = CACHE.get(name);
    if (known != null) {
      return known;
    }
    ScanClass c = BY_NAME.get(name);
    if (c == null) {
      Class<?> type;
      try {
        type = Class.forName(name, false, loader);
      } catch (ClassNotFoundException | LinkageError e) {
        return UNLOADABLE; // ObjectInputStream will say what is wrong with it; not cached
      }
      c = resolve(type);
    }
    if (CACHE.size() < CACHE_MAX) {
      CACHE.put(name, c);
    }
    return c;
  }

  private static ScanClass resolve(Class<?> type) {
    boolean jdk = isJdk(type);
    byte ordered = (byte) (ORDERED.indexOf(type.getName()) + 1);
    Class<?> declarer;
    try {
      Method hashCode = type.getMethod("hashCode");
      declarer = hashCode.getDeclaringClass();
    } catch (NoSuchMethodException | LinkageError | SecurityException e) {
      return new ScanClass(WORST, type.isRecord(), jdk, 0, null, null);
    }
    if (!jdk && declarer != Object.class && hasReadResolve(type)) {
      // What arrives is whatever the application's readResolve returns.
      return new ScanClass(OPAQUE, type.isRecord(), false, 0, null, null);
    }
    if (type.isRecord()) {
      if (declarer != type) {
        return new ScanClass(WORST, true, jdk, 0, null, null); // not a record's own hashCode
      }
      RecordComponent[] rc = type.getRecordComponents();
      String[] names = new String[rc.length];
      boolean[] booleans = new boolean[rc.length];
      for (int i = 0; i < rc.length; i++) {
        names[i] = rc[i].getName();
        booleans[i] = rc[i].getType() == boolean.class;
      }
      return new ScanClass(
          RECORD, true, jdk, (byte) 0, 0, null, null, type.getName(), names, booleans);
    }
    if (declarer == Object.class) {
      if (hasReadResolve(type)) {
        // What arrives is whatever readResolve returns: JDK proxies of unknown kind may hash
        // their contents; the application's are taken as well spread.
        return new ScanClass(jdk ? WORST : OPAQUE, false, jdk, 0, null, null);
      }
      return new ScanClass(IDENTITY, false, jdk, 0, null, null);
    }
    ScanClass known = isJdk(declarer) ? BY_DECLARER.get(declarer.getName()) : null;
    if (known != null) {
      return new ScanClass(
          known.kind,
          false,
          jdk,
          ordered,
          known.constant,
          known.field1,
          known.field2,
          OWNERS.getOrDefault(declarer.getName(), declarer.getName()),
          null,
          null);
    }
    return new ScanClass(isJdk(declarer) ? WORST : OPAQUE, false, jdk, 0, null, null);
  }

  private static boolean isJdk(Class<?> type) {
    ClassLoader l = type.getClassLoader();
    return l == null || l == ClassLoader.getPlatformClassLoader();
  }

  private static boolean hasReadResolve(Class<?> type) {
    for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Method m : c.getDeclaredMethods()) {
        if (m.getName().equals("readResolve") && m.getParameterCount() == 0) {
          return true;
        }
      }
    }
    return false;
  }

  /** Java's hash of a primitive of this type code, from its bits as the stream holds them. */
  static int primitiveHash(char type, long bits) {
    return switch (type) {
      case 'Z' -> bits != 0 ? 1231 : 1237;
      case 'B' -> (byte) bits;
      case 'S' -> (short) bits;
      case 'C' -> (char) bits;
      case 'J', 'D' -> {
        long v = type == 'D' ? Double.doubleToLongBits(Double.longBitsToDouble(bits)) : bits;
        yield (int) (v ^ (v >>> 32));
      }
      case 'F' -> Float.floatToIntBits(Float.intBitsToFloat((int) bits));
      default -> (int) bits; // 'I'
    };
  }

  /** {@code BigInteger.hashCode()} of a magnitude (big-endian bytes) and a signum. */
  static int bigIntegerHash(byte[] b, int start, int length, int signum) {
    int i = start;
    int end = start + length;
    while (i < end && b[i] == 0) {
      i++;
    }
    int bytes = end - i;
    if (bytes == 0) {
      return 0;
    }
    int first = bytes - 4 * ((bytes + 3) / 4 - 1);
    int h = 0;
    int word = 0;
    int inWord = 0;
    int wordLength = first;
    for (; i < end; i++) {
      word = (word << 8) | (b[i] & 0xff);
      if (++inWord == wordLength) {
        h = 31 * h + word;
        word = 0;
        inWord = 0;
        wordLength = 4;
      }
    }
    return h * signum;
  }

  /**
   * The hash of the {@code java.time} value whose {@code java.time.Ser} external form is {@code
   * b[0..n)}, or null if it is not one the scan computes.
   */
  static Integer timeHash(byte[] b, int n) {
    Reader r = new Reader(b, n);
    try {
      Integer h = time(r, r.u1());
      return r.pos == n ? h : null;
    } catch (IndexOutOfBoundsException e) {
      return null;
    }
  }

  private static Integer time(Reader r, int type) {
    return switch (type) {
      case 1, 2 -> { // Duration, Instant
        long seconds = r.s8();
        int nanos = r.s4();
        yield (int) (seconds ^ (seconds >>> 32)) + 51 * nanos;
      }
      case 3 -> date(r);
      case 4 -> time(r);
      case 5 -> date(r) ^ time(r);
      case 6 -> { // ZonedDateTime
        int dateTime = date(r) ^ time(r);
        int offset = offset(r);
        Integer zone = time(r, r.u1());
        yield zone == null ? null : dateTime ^ offset ^ Integer.rotateLeft(zone, 3);
      }
      case 7 -> r.utfHash(); // ZoneRegion: its id's hash
      case 8 -> offset(r);
      case 9 -> time(r) ^ offset(r); // OffsetTime
      case 10 -> date(r) ^ time(r) ^ offset(r); // OffsetDateTime
      case 11 -> r.s4(); // Year
      case 12 -> r.s4() ^ (r.s1() << 27); // YearMonth
      case 13 -> (r.s1() << 6) + r.s1(); // MonthDay
      case 14 -> r.s4() + Integer.rotateLeft(r.s4(), 8) + Integer.rotateLeft(r.s4(), 16);
      default -> null;
    };
  }

  private static int date(Reader r) {
    int year = r.s4();
    int month = r.s1();
    int day = r.s1();
    return (year & 0xFFFFF800) ^ ((year << 11) + (month << 6) + day);
  }

  private static int time(Reader r) {
    int hour = r.s1();
    int minute = 0;
    int second = 0;
    int nano = 0;
    if (hour < 0) {
      hour = ~hour;
    } else {
      minute = r.s1();
      if (minute < 0) {
        minute = ~minute;
      } else {
        second = r.s1();
        if (second < 0) {
          second = ~second;
        } else {
          nano = r.s4();
        }
      }
    }
    long nanoOfDay = hour * 3_600_000_000_000L + minute * 60_000_000_000L + second * 1_000_000_000L;
    nanoOfDay += nano;
    return (int) (nanoOfDay ^ (nanoOfDay >>> 32));
  }

  private static int offset(Reader r) {
    int b = r.s1();
    return b == 127 ? r.s4() : b * 900;
  }

  /** Big-endian reads from a captured block. */
  private static final class Reader {
    final byte[] b;
    final int n;
    int pos;

    Reader(byte[] b, int n) {
      this.b = b;
      this.n = n;
    }

    int u1() {
      return s1() & 0xff;
    }

    int s1() {
      if (pos >= n) {
        throw new IndexOutOfBoundsException();
      }
      return b[pos++];
    }

    int s4() {
      return (u1() << 24) | (u1() << 16) | (u1() << 8) | u1();
    }

    long s8() {
      return ((long) s4() << 32) | (s4() & 0xffffffffL);
    }

    int utfHash() {
      int length = (u1() << 8) | u1();
      int end = pos + length;
      if (end > n) {
        throw new IndexOutOfBoundsException();
      }
      int h = StreamScan.utfHash(b, pos, end);
      pos = end;
      return h;
    }
  }
}
