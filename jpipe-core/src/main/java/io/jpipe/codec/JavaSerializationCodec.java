package io.jpipe.codec;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;

/**
 * Java serialization, the JVM's pickle, always behind a budget and an {@link ObjectInputFilter}.
 *
 * <h2>Limits</h2>
 *
 * <p>Every decode is bounded by {@link DecodeLimits} ({@link #limits()}; defaults in its table):
 * nesting, objects and references, array and collection lengths (never more than the message has
 * room for), digits of a {@link java.math.BigInteger} (the magnitude of a {@link
 * java.math.BigDecimal} too), and work: the expanded size of the graph and the hashing that {@link
 * java.util.HashMap}, {@link java.util.HashSet}, {@link java.util.Hashtable}, {@link
 * java.util.concurrent.ConcurrentHashMap} and {@code Set.of}/{@code Map.of} do as they are read
 * back: visiting the contents of keys that hash their contents (nested sets that share elements,
 * "SerialDOS", are refused in milliseconds, before any of that hashing happens), and comparing keys
 * whose hashes collide, as each table compares them. The stream is first read without making any
 * object, as the serialization specification lays it out (classes are loaded, not initialised, to
 * see how they hash); a message over a limit is refused with a {@link DecodeLimitException} naming
 * the limit, and nothing of it is built. Messages that nest more than a few dozen levels are
 * decoded on a platform thread of this codec's own with a large stack, so the limits hold whatever
 * thread calls {@code recv} (a virtual thread, a thread with a small stack); at most one such
 * thread per processor (and at least 2) runs at once in the JVM, and more deep messages wait their
 * turn. {@code decode} never throws an {@link Error}. Structures that contain themselves stay legal
 * (a list that holds itself, a map that is its own value), except as set elements or map keys,
 * whose hashing would never end.
 *
 * <p>To charge collisions the codec computes the {@code hashCode} each key will have: exactly for
 * strings, boxed primitives, {@link java.math.BigInteger}, {@link java.math.BigDecimal}, {@link
 * java.util.UUID}, {@link java.util.Date}, {@code java.time} values, the {@code java.util} lists,
 * sets and maps and their wrappers, and records (as their generated {@code hashCode} computes it).
 * Keys of another JDK class that hashes its contents are taken to collide with each other, so a set
 * of more than a few thousand of them needs a larger {@link DecodeLimits#maxWork()}. A class of
 * yours with its own {@code hashCode} is charged for visiting its contents; the codec cannot run
 * your {@code hashCode}, so it takes its hashes as well spread.
 *
 * <p>A class's {@code writeObject} must call {@code defaultWriteObject} or {@code writeFields}
 * first, as the specification requires (every JDK class does); a stream laid out otherwise is
 * refused as corrupt.
 *
 * <h2>Trust</h2>
 *
 * <p>{@link Codec#javaSerialization()}, {@link #withLimits} and {@link #withFilter} decode any
 * class on the class path, as pickle does: for pipes and child processes, which join parts of one
 * program. {@link #allowing} decodes only an allow-list (JDK value types, the common collections,
 * arrays, records of those, and your patterns): for sockets, which may join strangers. Your own
 * filter ({@link #withFilter}) and the JVM-wide one ({@code -Djdk.serialFilter=...}) are applied
 * too. A class any of them rejects is refused with {@link InvalidClassException} naming the class.
 *
 * <p>Decoding errors are {@link IOException}s that never look like end of file: an empty, malformed
 * or cut-off encoding is a {@link StreamCorruptedException}, an unknown or refused class, or one
 * that cannot be loaded or initialised, an {@link InvalidClassException}, a limit a {@link
 * DecodeLimitException} (so is a {@link StackOverflowError} or {@link OutOfMemoryError} on the way,
 * named {@code "stack"} or {@code "memory"}), and a class's own code ({@code readObject}, {@code
 * readResolve}, {@code readExternal}, a record's constructor) failing with an unchecked exception
 * or any other {@link Error} an {@link InvalidObjectException} whose cause is what it threw. The
 * message is consumed either way.
 *
 * <h2>Compact forms</h2>
 *
 * <p>{@code null} and single {@link Boolean}, {@link Integer}, {@link Long}, {@link Double}, {@link
 * String} and {@code byte[]} values, the bulk of small messages, are written in a compact form of a
 * tag byte and the value (an {@code Integer} is 5 bytes, not 81), which skips the cost of a whole
 * serialization stream at both ends. They decode to equal objects of the same classes, and still
 * pass through your filter and the JVM-wide one. A full serialization stream starts with {@code AC
 * ED}; the compact tags are small numbers, so the two never meet.
 */
public final class JavaSerializationCodec implements Codec, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** Default deepest nesting of objects ({@link DecodeLimits#DEFAULT_MAX_DEPTH}). */
  public static final long DEFAULT_MAX_DEPTH = DecodeLimits.DEFAULT_MAX_DEPTH;

  /** Default most object references in one message ({@link DecodeLimits#DEFAULT_MAX_OBJECTS}). */
  public static final long DEFAULT_MAX_REFERENCES = DecodeLimits.DEFAULT_MAX_OBJECTS;

  static final JavaSerializationCodec DEFAULT =
      new JavaSerializationCodec(DecodeLimits.defaults(), null, null);

  /** Stream nesting decoded on the caller's thread; deeper messages go to a large stack. */
  static final int INLINE_DEPTH = 64;

  /** The limits. */
  private final transient DecodeLimits limits;

  /** The classes allowed, or null for any class. */
  private final transient AllowList allowList;

  private final transient ObjectInputFilter userFilter;

  private JavaSerializationCodec(
      DecodeLimits limits, AllowList allowList, ObjectInputFilter userFilter) {
    this.limits = Objects.requireNonNull(limits, "limits");
    this.allowList = allowList;
    this.userFilter = userFilter;
  }

  /**
   * A codec with the default limits and your filter as well; any class your filter does not reject
   * is decoded.
   *
   * @param filter consulted for every class and limit check; its REJECTED always wins
   * @return the codec
   */
  public static JavaSerializationCodec withFilter(ObjectInputFilter filter) {
    return new JavaSerializationCodec(
        DecodeLimits.defaults(), null, Objects.requireNonNull(filter, "filter"));
  }

  /**
   * A codec that decodes any class, with another depth and reference limit (the other limits keep
   * their defaults).
   *
   * @param maxDepth deepest nesting of objects, at least 1 (more than {@link Integer#MAX_VALUE}
   *     counts as that)
   * @param maxReferences most object references in one message, at least 1
   * @return the codec
   */
  public static JavaSerializationCodec withLimits(long maxDepth, long maxReferences) {
    if (maxDepth < 1 || maxReferences < 1) {
      throw new IllegalArgumentException(
          "limits must be positive: maxDepth=" + maxDepth + ", maxReferences=" + maxReferences);
    }
    return new JavaSerializationCodec(
        DecodeLimits.defaults()
            .withMaxDepth((int) Math.min(Integer.MAX_VALUE, maxDepth))
            .withMaxObjects(maxReferences),
        null,
        null);
  }

  /**
   * A codec that decodes any class, with these limits.
   *
   * @param limits the limits
   * @return the codec
   */
  public static JavaSerializationCodec withLimits(DecodeLimits limits) {
    return new JavaSerializationCodec(limits, null, null);
  }

  /**
   * A codec that decodes only the default allow-list and classes your patterns allow; anything else
   * is refused with {@link InvalidClassException} naming the class. With no patterns, just the
   * defaults.
   *
   * <p>Your patterns come first, in {@link ObjectInputFilter.Config#createFilter} syntax, one per
   * argument: {@code "com.example.Point"} (a class), {@code "com.example.*"} (a package), {@code
   * "com.example.**"} (a package and its subpackages), {@code "com.example.Pre*"} (a prefix),
   * {@code "!com.example.Bad"} (refused, even if a later pattern or a default allows it); the first
   * that matches decides. Then the defaults ({@link #defaultAllowList()}): {@link String}, the
   * boxed primitives, {@link java.math.BigInteger}, {@link java.math.BigDecimal}, {@code java.time}
   * value types, {@link java.util.UUID}, {@link java.util.ArrayList}, {@link java.util.LinkedList},
   * {@link java.util.ArrayDeque}, {@link java.util.HashMap}, {@link java.util.LinkedHashMap},
   * {@link java.util.TreeMap}, {@link java.util.HashSet}, {@link java.util.LinkedHashSet}, {@link
   * java.util.TreeSet}, {@code List.of}/{@code Set.of}/{@code Map.of} collections, {@code
   * Arrays.asList}, the {@link java.util.Collections} unmodifiable, synchronized, empty and
   * singleton wrappers, {@link java.util.AbstractMap.SimpleEntry} and {@link
   * java.util.AbstractMap.SimpleImmutableEntry}, and the reverse-order and case-insensitive
   * comparators. Then these rules: arrays of primitives, of allowed classes, and of {@code
   * Object}/interfaces (each element is checked as it arrives); enums of {@code java.*} packages;
   * and records whose components' declared types are primitive, interfaces, abstract, or allowed (a
   * record's canonical constructor runs on what arrives).
   *
   * <p>This is the codec for sockets; limits are the defaults ({@link #limitedTo} changes them).
   *
   * @param patterns class patterns to allow (or, with {@code !}, to refuse)
   * @return the codec
   * @throws IllegalArgumentException if a pattern is malformed
   */
  public static JavaSerializationCodec allowing(String... patterns) {
    return new JavaSerializationCodec(DecodeLimits.defaults(), new AllowList(patterns), null);
  }

  /**
   * The patterns {@link #allowing} allows by default, in {@link ObjectInputFilter.Config
   * #createFilter} syntax; arrays, enums of {@code java.*} packages and records of allowed types
   * are allowed by rule besides.
   *
   * @return the patterns, unmodifiable
   */
  public static List<String> defaultAllowList() {
    return AllowList.DEFAULT_PATTERNS;
  }

  /**
   * This codec with other limits: the same classes allowed, the same filter.
   *
   * @param limits the limits
   * @return the codec
   */
  public JavaSerializationCodec limitedTo(DecodeLimits limits) {
    return new JavaSerializationCodec(limits, allowList, userFilter);
  }

  /**
   * The limits every decode is held to.
   *
   * @return the limits
   */
  public DecodeLimits limits() {
    return limits;
  }

  // Compact tags; a serialization stream starts with STREAM_MAGIC's first byte, 0xAC.
  private static final int T_NULL = 1;
  private static final int T_TRUE = 2;
  private static final int T_FALSE = 3;
  private static final int T_INT = 4;
  private static final int T_LONG = 5;
  private static final int T_DOUBLE = 6;
  private static final int T_STRING = 7;
  private static final int T_BYTES = 8;
  private static final int T_STREAM = 0xAC;

  @Override
  public void encode(Object value, OutputStream out) throws IOException {
    switch (value) {
      case null -> out.write(T_NULL);
      case Boolean b -> out.write(b ? T_TRUE : T_FALSE);
      case Integer i -> {
        out.write(T_INT);
        writeBigEndian(out, i, 4);
      }
      case Long l -> {
        out.write(T_LONG);
        writeBigEndian(out, l, 8);
      }
      case Double d -> {
        out.write(T_DOUBLE);
        writeBigEndian(out, Double.doubleToRawLongBits(d), 8);
      }
      case String str when !hasLoneSurrogate(str) -> {
        out.write(T_STRING);
        out.write(str.getBytes(StandardCharsets.UTF_8));
      }
      case byte[] bytes -> {
        out.write(T_BYTES);
        out.write(bytes);
      }
      default -> {
        try {
          ObjectOutputStream oos = new ObjectOutputStream(out);
          oos.writeObject(value);
          oos.flush();
        } catch (StackOverflowError e) {
          NotSerializableException nse =
              new NotSerializableException(
                  value.getClass().getName()
                      + ": nested too deep for this thread's stack to serialize");
          nse.initCause(e);
          throw nse;
        }
      }
    }
  }

  private static void writeBigEndian(OutputStream out, long v, int bytes) throws IOException {
    for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
      out.write((int) (v >>> shift));
    }
  }

  private static long readBigEndian(byte[] b, int off, int bytes) {
    long v = 0;
    for (int i = 0; i < bytes; i++) {
      v = (v << 8) | (b[off + i] & 0xff);
    }
    return v;
  }

  /** UTF-8 cannot carry a lone surrogate; such strings take the serialization path. */
  private static boolean hasLoneSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return true;
        }
      } else if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  private Object decodeCompact(byte[] m, int off, int length) throws IOException {
    int tag = m[off] & 0xff;
    int body = length - 1;
    int expected =
        switch (tag) {
          case T_NULL, T_TRUE, T_FALSE -> 0;
          case T_INT -> 4;
          case T_LONG, T_DOUBLE -> 8;
          case T_STRING, T_BYTES -> body;
          default ->
              throw new StreamCorruptedException(
                  "not an encoded object: first byte 0x" + Integer.toHexString(tag));
        };
    if (body != expected) {
      throw new StreamCorruptedException(
          "compact value with tag " + tag + " has " + body + " bytes, expected " + expected);
    }
    Object v =
        switch (tag) {
          case T_NULL -> null;
          case T_TRUE -> Boolean.TRUE;
          case T_FALSE -> Boolean.FALSE;
          case T_INT -> (int) readBigEndian(m, off + 1, 4);
          case T_LONG -> readBigEndian(m, off + 1, 8);
          case T_DOUBLE -> Double.longBitsToDouble(readBigEndian(m, off + 1, 8));
          case T_STRING -> new String(m, off + 1, body, StandardCharsets.UTF_8);
          default -> java.util.Arrays.copyOfRange(m, off + 1, off + length);
        };
    if (v != null
        && (allowList != null
            || userFilter != null
            || ObjectInputFilter.Config.getSerialFilter() != null)) {
      Filter filter = new Filter(length);
      if (filter.checkInput(new Info(v.getClass(), length)) == ObjectInputFilter.Status.REJECTED) {
        throw filter.explain(
            new InvalidClassException(v.getClass().getName(), "filter status: REJECTED"));
      }
    }
    return v;
  }

  /** What a filter is shown for a compact value. */
  private record Info(Class<?> serialClass, long streamBytes)
      implements ObjectInputFilter.FilterInfo {
    @Override
    public long arrayLength() {
      return serialClass == byte[].class ? streamBytes - 1 : -1;
    }

    @Override
    public long depth() {
      return 1;
    }

    @Override
    public long references() {
      return 1;
    }
  }

  @Override
  public Object decode(byte[] message, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, message.length);
    if (length == 0) {
      throw new StreamCorruptedException(
          "empty message: it holds no encoded object (was it sent with sendBytes?)");
    }
    if ((message[offset] & 0xff) != T_STREAM) {
      return decodeCompact(message, offset, length);
    }
    try {
      try {
        return decodeStream(message, offset, length, true);
      } catch (StreamScan.TooDeepForThisStack deep) {
        return onLargeStack(message, offset, length);
      }
    } catch (StackOverflowError e) {
      throw outOfStack(e);
    } catch (OutOfMemoryError e) {
      throw outOfMemory(e);
    } catch (LinkageError e) {
      // A class named by the message cannot be loaded or initialised (module-info, a missing
      // dependency, a failing static initialiser): the message is refused, not the JVM's business.
      InvalidClassException ice =
          new InvalidClassException("a class in the message cannot be loaded or initialised: " + e);
      ice.initCause(e);
      throw ice;
    } catch (Error e) {
      // Thrown by a decoded class's own code (readObject, readResolve, readExternal, a record's
      // constructor) or by the JDK's on data it refuses (Map.of's proxy with an odd length throws
      // InternalError): the message is refused; the JVM is not broken by it.
      InvalidObjectException ioe =
          new InvalidObjectException("a class failed to read its object back: " + e);
      ioe.initCause(e);
      throw ioe;
    }
  }

  /**
   * Scans the stream against the limits, then decodes it. {@code inline}: on the caller's thread,
   * which only follows {@link #INLINE_DEPTH} levels ({@link StreamScan.TooDeepForThisStack} past
   * them).
   */
  private Object decodeStream(byte[] message, int offset, int length, boolean inline)
      throws IOException {
    int cap = inline ? Math.min(INLINE_DEPTH, limits.maxDepth()) : limits.maxDepth();
    StreamScan.Result scan;
    try {
      scan = StreamScan.scan(message, offset, length, limits, cap, LOADER);
    } catch (StreamScan.TooDeepForThisStack deep) {
      throw deep;
    } catch (RuntimeException e) {
      // A fault of the scan's own on data it did not foresee: the message is refused all the same.
      InvalidObjectException ioe =
          new InvalidObjectException("the message could not be checked against the limits: " + e);
      ioe.initCause(e);
      throw ioe;
    }
    if (inline && scan.height() > INLINE_DEPTH) {
      throw StreamScan.TOO_DEEP; // hashing the deepest key recurses that deep: a large stack
    }
    Filter filter = new Filter(length);
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(message, offset, length))) {
      in.setObjectInputFilter(filter);
      return in.readObject();
    } catch (InvalidClassException e) {
      throw filter.explain(e);
    } catch (ClassNotFoundException e) {
      InvalidClassException ice =
          new InvalidClassException(e.getMessage(), "class not found in this JVM");
      ice.initCause(e);
      throw ice;
    } catch (EOFException e) {
      StreamCorruptedException sce =
          new StreamCorruptedException(
              "encoded object is cut short (" + length + " bytes in the message)");
      sce.initCause(e);
      throw sce;
    } catch (RuntimeException e) {
      InvalidObjectException ioe =
          new InvalidObjectException("a class failed to read its object back: " + e);
      ioe.initCause(e);
      throw ioe;
    }
  }

  /**
   * Most deep messages decoded at once, by all codecs of the JVM together, each on a platform
   * thread of its own with a large stack; more wait their turn.
   */
  static final int LARGE_STACK_DECODERS = Math.max(2, Runtime.getRuntime().availableProcessors());

  private static final Semaphore LARGE_STACKS = new Semaphore(LARGE_STACK_DECODERS, true);

  /** Set on a large-stack decoder: a decode inside one (a readObject decoding) takes no turn. */
  private static final ThreadLocal<Boolean> ON_LARGE_STACK = new ThreadLocal<>();

  /** Decodes a deep message on a platform thread of its own, with a stack that fits the limits. */
  private Object onLargeStack(byte[] message, int offset, int length) throws IOException {
    Object[] result = new Object[1];
    Throwable[] failure = new Throwable[1];
    long stack = Math.min(1L << 30, (16L << 20) + 16_384L * limits.maxDepth());
    Thread decoder =
        Thread.ofPlatform()
            .name("jpipe-decode")
            .daemon(true)
            .stackSize(stack)
            .unstarted(
                () -> {
                  ON_LARGE_STACK.set(Boolean.TRUE);
                  try {
                    result[0] = decodeStream(message, offset, length, false);
                  } catch (StackOverflowError e) {
                    failure[0] = outOfStack(e);
                  } catch (OutOfMemoryError e) {
                    failure[0] = outOfMemory(e);
                  } catch (Throwable e) {
                    failure[0] = e;
                  }
                });
    // The decode is bounded, and so is the wait for a turn: both go on through an interrupt,
    // which is kept for the caller.
    boolean turn = ON_LARGE_STACK.get() == null;
    if (turn) {
      LARGE_STACKS.acquireUninterruptibly();
    }
    boolean interrupted = false;
    try {
      decoder.start();
      while (true) {
        try {
          decoder.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (turn) {
        LARGE_STACKS.release();
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return switch (failure[0]) {
      case null -> result[0];
      case IOException e -> throw e;
      case RuntimeException e -> throw e;
      case Error e -> throw e;
      default -> throw new IllegalStateException(failure[0]);
    };
  }

  private DecodeLimitException outOfStack(StackOverflowError e) {
    DecodeLimitException d =
        new DecodeLimitException(
            "stack", -1, "the thread's stack ran out before the limits " + limits + " caught it");
    d.initCause(e);
    return d;
  }

  private static DecodeLimitException outOfMemory(OutOfMemoryError e) {
    DecodeLimitException d =
        new DecodeLimitException(
            "memory", Runtime.getRuntime().maxMemory(), "the heap ran out while decoding");
    d.initCause(e);
    return d;
  }

  /** Where the scan looks up whether a class is a record (as ObjectInputStream resolves it). */
  private static final ClassLoader LOADER =
      JavaSerializationCodec.class.getClassLoader() != null
          ? JavaSerializationCodec.class.getClassLoader()
          : ClassLoader.getSystemClassLoader();

  /**
   * The filter of one decode: the limits, the allow-list, your filter and the JVM-wide one; it
   * remembers why it rejected, so the exception can say.
   */
  private final class Filter implements ObjectInputFilter {
    private final long messageLength;
    private final ObjectInputFilter global = ObjectInputFilter.Config.getSerialFilter();
    private String limit;
    private long limitValue;
    private String detail;
    private String corrupt;
    private Class<?> rejected;
    private String rejectedBy;

    Filter(long messageLength) {
      this.messageLength = messageLength;
    }

    @Override
    public Status checkInput(FilterInfo info) {
      if (info.depth() > limits.maxDepth()) {
        return overLimit("maxDepth", limits.maxDepth(), "objects nested deeper than that");
      }
      if (info.references() > limits.maxObjects()) {
        return overLimit("maxObjects", limits.maxObjects(), "more objects than that");
      }
      long n = info.arrayLength();
      // HashMap, HashSet and Hashtable ask for their table: up to 8 slots an entry (load factor
      // 0.25, rounded up to a power of two), and at least 16; an entry takes a byte at least
      long slots = info.serialClass() == java.util.Map.Entry[].class ? 8 : 1;
      long most = slots * limits.maxArrayLength() + (slots > 1 ? 16 : 0);
      if (n > most) {
        return overLimit(
            "maxArrayLength", limits.maxArrayLength(), "an array or collection of " + n);
      }
      if (n > slots * messageLength + (slots > 1 ? 16 : 0)) {
        corrupt =
            "an array or collection announces "
                + n
                + " elements where the message has only "
                + messageLength
                + " bytes";
        return Status.REJECTED;
      }
      Class<?> c = info.serialClass();
      if (c != null && allowList != null && !allowList.allows(c)) {
        rejected = c;
        rejectedBy = "is not on this codec's allow-list (JavaSerializationCodec.allowing)";
        return Status.REJECTED;
      }
      if (rejectedBy(userFilter, info, "is rejected by the codec's filter")
          || rejectedBy(global, info, "is rejected by the JVM-wide filter (jdk.serialFilter)")) {
        return Status.REJECTED;
      }
      return allowList != null && c != null ? Status.ALLOWED : Status.UNDECIDED;
    }

    private boolean rejectedBy(ObjectInputFilter f, FilterInfo info, String why) {
      if (f != null && f.checkInput(info) == Status.REJECTED) {
        rejected = info.serialClass();
        rejectedBy = why;
        return true;
      }
      return false;
    }

    private Status overLimit(String name, long value, String what) {
      limit = name;
      limitValue = value;
      detail = what;
      return Status.REJECTED;
    }

    /** The exception that says why this filter rejected, or {@code e} if it did not. */
    IOException explain(InvalidClassException e) {
      IOException better;
      if (limit != null) {
        better = new DecodeLimitException(limit, limitValue, detail);
      } else if (corrupt != null) {
        better = new StreamCorruptedException(corrupt);
      } else if (rejectedBy != null) {
        better =
            rejected != null
                ? new InvalidClassException(rejected.getName(), rejectedBy)
                : new InvalidClassException("a limit of the filter: " + rejectedBy);
      } else {
        return e;
      }
      better.initCause(e);
      return better;
    }
  }

  /**
   * Travels as {@code SerialForm}.
   *
   * @return the serial form
   * @throws java.io.ObjectStreamException if the filter is not serializable
   */
  @Serial
  private Object writeReplace() throws java.io.ObjectStreamException {
    if (userFilter != null && !(userFilter instanceof Serializable)) {
      throw new java.io.NotSerializableException(
          "JavaSerializationCodec: its filter "
              + userFilter.getClass().getName()
              + " is not Serializable, so the codec cannot go to another process");
    }
    return new SerialForm(
        limits,
        allowList == null ? null : allowList.patterns().toArray(String[]::new),
        (Serializable) userFilter);
  }

  /**
   * Refuses the default form.
   *
   * @param in unused
   * @throws java.io.InvalidObjectException always
   */
  @Serial
  private void readObject(java.io.ObjectInputStream in) throws java.io.InvalidObjectException {
    throw new java.io.InvalidObjectException("use the serial form");
  }

  /** What travels to another process (a plain class: records deserialize slowly in a new JVM). */
  private static final class SerialForm implements Serializable {
    @Serial private static final long serialVersionUID = 2L;

    /** {@link DecodeLimits#maxDepth()}. */
    private final int maxDepth;

    /** {@link DecodeLimits#maxObjects()}. */
    private final long maxObjects;

    /** {@link DecodeLimits#maxArrayLength()}. */
    private final int maxArrayLength;

    /** {@link DecodeLimits#maxIntDigits()}. */
    private final int maxIntDigits;

    /** {@link DecodeLimits#maxWork()}. */
    private final long maxWork;

    /** The user's allow patterns, or null for any class. */
    private final String[] allow;

    /** The user's filter, or null. */
    private final Serializable filter;

    SerialForm(DecodeLimits limits, String[] allow, Serializable filter) {
      this.maxDepth = limits.maxDepth();
      this.maxObjects = limits.maxObjects();
      this.maxArrayLength = limits.maxArrayLength();
      this.maxIntDigits = limits.maxIntDigits();
      this.maxWork = limits.maxWork();
      this.allow = allow;
      this.filter = filter;
    }

    /**
     * The codec this stands for.
     *
     * @return the shared default, or a codec with these limits, allow-list and filter
     * @throws java.io.InvalidObjectException if the limits are out of range
     */
    @Serial
    private Object readResolve() throws java.io.InvalidObjectException {
      DecodeLimits limits;
      try {
        limits = new DecodeLimits(maxDepth, maxObjects, maxArrayLength, maxIntDigits, maxWork);
      } catch (IllegalArgumentException e) {
        throw new java.io.InvalidObjectException(e.getMessage());
      }
      if (filter == null && allow == null && limits.equals(DecodeLimits.defaults())) {
        return DEFAULT;
      }
      return new JavaSerializationCodec(
          limits, allow == null ? null : new AllowList(allow), (ObjectInputFilter) filter);
    }
  }

  @Override
  public String toString() {
    return "JavaSerializationCodec["
        + (allowList == null ? "any class" : "allowing defaults " + allowList.patterns())
        + ", "
        + limits
        + (userFilter != null ? ", filter=" + userFilter : "")
        + "]";
  }
}
