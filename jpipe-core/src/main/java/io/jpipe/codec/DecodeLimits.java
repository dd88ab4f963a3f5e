package io.jpipe.codec;

/**
 * What one {@code decode} may cost, for {@link JavaSerializationCodec} and {@code PickleCodec}. A
 * message over any limit is refused with a {@link DecodeLimitException} naming the limit; the
 * message is consumed and the connection stays usable. Going over is detected before the cost is
 * paid where it can be (nesting, lengths, digits, hashing work), and never ends in an {@link
 * Error}: the limits hold on a thread of the default stack size and on a virtual thread.
 *
 * <table class="striped">
 *   <caption>Limits and their defaults</caption>
 *   <thead><tr><th scope="col">limit</th><th scope="col">default</th>
 *       <th scope="col">bounds</th></tr></thead>
 *   <tbody>
 *     <tr><td>{@link #maxDepth()}</td><td>1,000</td>
 *         <td>nesting: objects inside objects, counted along the longest path (a chain of objects
 *             that each hold the next, such as a linked list, nests once per link); a reference
 *             back to an enclosing container (a list that contains itself) does not count</td></tr>
 *     <tr><td>{@link #maxObjects()}</td><td>10,000,000</td>
 *         <td>objects and references to them in one message (pickle: values pushed and memo
 *             entries)</td></tr>
 *     <tr><td>{@link #maxArrayLength()}</td><td>2<sup>31</sup> − 1</td>
 *         <td>elements of one array, collection or map (a Java {@code HashMap} or {@code
 *             HashSet} is checked by its table, which may have up to 8 slots an entry); whatever
 *             this says, a length claim larger than what is left of the message is refused before
 *             anything is allocated</td></tr>
 *     <tr><td>{@link #maxIntDigits()}</td><td>4,300</td>
 *         <td>decimal digits of one integer (CPython's limit for {@code int} from and to text);
 *             binary forms ({@code BigInteger}, pickle's {@code LONG1}/{@code LONG4}) may have
 *             at most {@link #maxIntBytes()} bytes, 1,787 by default</td></tr>
 *     <tr><td>{@link #maxWork()}</td><td>100,000,000</td>
 *         <td>steps: the expanded size of the value (each reference to a shared object counts
 *             that object's whole size again, so exponential sharing is refused), plus {@value
 *             #HASHING_STEPS} steps for each element visited to hash a set element or map key
 *             that Java hashes by its contents (a collection, map, record, or a class with its
 *             own {@code hashCode}: SerialDOS), plus steps for each element visited comparing
 *             keys whose hashes collide (as many comparisons as the hash table makes): one each
 *             for Java serialization, charged as each key arrives, {@value #HASHING_STEPS} for
 *             pickle; plus (pickle) one step per opcode</td></tr>
 *   </tbody>
 * </table>
 *
 * <p>Use {@link #defaults()} and change what you need: {@code
 * DecodeLimits.defaults().withMaxDepth(100)}.
 *
 * @param maxDepth deepest nesting, at least 1
 * @param maxObjects most objects and references in one message, at least 1
 * @param maxArrayLength most elements in one array, collection or map, at least 0
 * @param maxIntDigits most decimal digits of one integer, at least 1
 * @param maxWork most steps of work for one message, at least 1
 */
public record DecodeLimits(
    int maxDepth, long maxObjects, int maxArrayLength, int maxIntDigits, long maxWork) {

  /** Default {@link #maxDepth()}. */
  public static final int DEFAULT_MAX_DEPTH = 1_000;

  /** Default {@link #maxObjects()}. */
  public static final long DEFAULT_MAX_OBJECTS = 10_000_000;

  /** Default {@link #maxArrayLength()}: no limit beyond the message's own length. */
  public static final int DEFAULT_MAX_ARRAY_LENGTH = Integer.MAX_VALUE;

  /** Default {@link #maxIntDigits()}: CPython's {@code sys.int_info.default_max_str_digits}. */
  public static final int DEFAULT_MAX_INT_DIGITS = 4_300;

  /** Default {@link #maxWork()}. */
  public static final long DEFAULT_MAX_WORK = 100_000_000;

  /**
   * Steps of {@link #maxWork()} that one element visited by hashing (or, for pickle, by comparing
   * keys whose hashes collide) costs: hashing a set element or a map key that is a collection, a
   * map or a record visits everything inside it, and a visit costs that much more than a step of
   * reading. With the defaults, hashing and comparing may visit about 6 million elements in one
   * message.
   */
  public static final int HASHING_STEPS = 16;

  private static final DecodeLimits DEFAULTS =
      new DecodeLimits(
          DEFAULT_MAX_DEPTH,
          DEFAULT_MAX_OBJECTS,
          DEFAULT_MAX_ARRAY_LENGTH,
          DEFAULT_MAX_INT_DIGITS,
          DEFAULT_MAX_WORK);

  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException if a value is out of range
   */
  public DecodeLimits {
    if (maxDepth < 1 || maxObjects < 1 || maxArrayLength < 0 || maxIntDigits < 1 || maxWork < 1) {
      throw new IllegalArgumentException(
          "decode limits out of range: maxDepth="
              + maxDepth
              + ", maxObjects="
              + maxObjects
              + ", maxArrayLength="
              + maxArrayLength
              + ", maxIntDigits="
              + maxIntDigits
              + ", maxWork="
              + maxWork);
    }
  }

  /**
   * The default limits, as the table gives them.
   *
   * @return the defaults
   */
  public static DecodeLimits defaults() {
    return DEFAULTS;
  }

  /**
   * These limits with another depth.
   *
   * @param value deepest nesting, at least 1
   * @return the new limits
   */
  public DecodeLimits withMaxDepth(int value) {
    return new DecodeLimits(value, maxObjects, maxArrayLength, maxIntDigits, maxWork);
  }

  /**
   * These limits with another object count.
   *
   * @param value most objects and references, at least 1
   * @return the new limits
   */
  public DecodeLimits withMaxObjects(long value) {
    return new DecodeLimits(maxDepth, value, maxArrayLength, maxIntDigits, maxWork);
  }

  /**
   * These limits with another array length.
   *
   * @param value most elements in one array, collection or map, at least 0
   * @return the new limits
   */
  public DecodeLimits withMaxArrayLength(int value) {
    return new DecodeLimits(maxDepth, maxObjects, value, maxIntDigits, maxWork);
  }

  /**
   * These limits with another digit count.
   *
   * @param value most decimal digits of one integer, at least 1
   * @return the new limits
   */
  public DecodeLimits withMaxIntDigits(int value) {
    return new DecodeLimits(maxDepth, maxObjects, maxArrayLength, value, maxWork);
  }

  /**
   * These limits with another amount of work.
   *
   * @param value most steps of work for one message, at least 1
   * @return the new limits
   */
  public DecodeLimits withMaxWork(long value) {
    return new DecodeLimits(maxDepth, maxObjects, maxArrayLength, maxIntDigits, value);
  }

  /**
   * The most bytes of a binary integer: {@link #maxIntDigits()} decimal digits need at most this
   * many bytes in two's complement ({@code ceil(maxIntDigits * log2(10) / 8) + 1}).
   *
   * @return the byte limit that goes with the digit limit
   */
  public int maxIntBytes() {
    double bits = Math.ceil(maxIntDigits * (Math.log(10) / Math.log(2)));
    return (int) Math.min(Integer.MAX_VALUE, (long) Math.ceil(bits / 8) + 1);
  }
}
