package io.jpipe.pickle;

import io.jpipe.codec.Codec;
import io.jpipe.codec.DecodeLimitException;
import io.jpipe.codec.DecodeLimits;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.OutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.util.Objects;
import net.razorvine.pickle.PickleException;

/**
 * Python's pickle, so a Java process and a CPython process exchange objects over a jpipe {@link
 * io.jpipe.Connection}: what CPython's {@code conn.send(obj)} sends, {@code recv()} here decodes,
 * and what {@code send(obj)} here sends, CPython's {@code conn.recv()} loads. Built on <a
 * href="https://github.com/irmen/pickle">Razorvine pickle</a> 1.5.
 *
 * <pre>{@code
 * try (Pipe pipe = Pipe.open(true, PickleCodec.create())) {
 *   pipe.conn1().send(List.of("x", 1729, Map.of("k", 2.5)));
 *   Object got = pipe.conn2().recv();     // [x, 1729, {k=2.5}]: an ArrayList, a LinkedHashMap
 * }
 * }</pre>
 *
 * <p>On the CPython side, a {@code multiprocessing.connection.Connection} on the same pipe or
 * socket sends and receives the same messages with its own {@code send} and {@code recv}.
 *
 * <h2>Types</h2>
 *
 * <table class="striped">
 *   <caption>Python types and their Java types</caption>
 *   <thead>
 *     <tr><th scope="col">Python</th><th scope="col">decodes to</th>
 *         <th scope="col">encoded from</th></tr>
 *   </thead>
 *   <tbody>
 *     <tr><th scope="row">{@code None}</th><td>{@code null}</td><td>{@code null}</td></tr>
 *     <tr><th scope="row">{@code bool}</th><td>{@link Boolean}</td><td>{@link Boolean}</td></tr>
 *     <tr><th scope="row">{@code int}</th>
 *         <td>{@link Integer} if it fits in 32 bits, else {@link Long} if it fits in 64 bits, else
 *             {@link java.math.BigInteger}</td>
 *         <td>{@link Integer}, {@link Long}, {@link Short}, {@link Byte},
 *             {@link java.math.BigInteger}</td></tr>
 *     <tr><th scope="row">{@code float}</th><td>{@link Double}</td>
 *         <td>{@link Double}; {@link Float} (its exact value, so {@code 0.1f} arrives as
 *             {@code 0.10000000149011612})</td></tr>
 *     <tr><th scope="row">{@code str}</th><td>{@link String}</td><td>{@link String}</td></tr>
 *     <tr><th scope="row">{@code bytes}</th><td>{@code byte[]}</td><td>{@code byte[]}</td></tr>
 *     <tr><th scope="row">{@code bytearray}</th><td>{@code byte[]}</td><td>(none)</td></tr>
 *     <tr><th scope="row">{@code list}</th><td>{@link java.util.ArrayList}</td>
 *         <td>any {@link java.util.List}, and any other {@link java.util.Collection} that is not
 *             a {@link java.util.Set}</td></tr>
 *     <tr><th scope="row">{@code tuple}</th><td>{@code Object[]}</td>
 *         <td>{@code Object[]} and every other array of references ({@code String[]},
 *             {@code Integer[][]}, ...)</td></tr>
 *     <tr><th scope="row">{@code dict}</th><td>{@link java.util.LinkedHashMap}, in the dict's
 *             order</td>
 *         <td>any {@link java.util.Map}, in its iteration order</td></tr>
 *     <tr><th scope="row">{@code set}</th><td>{@link java.util.HashSet}</td>
 *         <td>any {@link java.util.Set}</td></tr>
 *     <tr><th scope="row">{@code frozenset}</th><td>{@link java.util.HashSet}</td>
 *         <td>(none)</td></tr>
 *   </tbody>
 * </table>
 *
 * <ul>
 *   <li>Decoded containers are new and mutable. A container reached twice, or containing itself,
 *       keeps that shape in both directions: the memo works by identity, as CPython's does.
 *   <li>A tuple decodes to an {@code Object[]}, which Java compares by identity: a dict with tuple
 *       keys, or a set of tuples, can only be searched by iterating.
 *   <li>The keys of a {@code Map} and the elements of a {@code Set} must encode to hashable Python
 *       values (not a list, dict or set), or CPython's unpickling fails with {@code TypeError}.
 *   <li>Strings travel as UTF-8. An unpaired surrogate does not survive: Java writes {@code ?} for
 *       it, and CPython's (surrogatepass) bytes for one decode to U+FFFD, the replacement
 *       character.
 *   <li>Other Python values decode as Razorvine maps them: {@code complex} to its {@code
 *       ComplexNumber}, {@code decimal.Decimal} to {@link java.math.BigDecimal}, {@code datetime}
 *       types to {@link java.util.Calendar} and Razorvine's {@code Time} and {@code TimeDelta},
 *       {@code array.array} to primitive arrays, exceptions to its {@code PythonException}, and an
 *       instance of any other class to a {@code ClassDict}: a {@code HashMap} of its state with the
 *       class name under {@code "__class__"}.
 * </ul>
 *
 * <p>{@link #create()} encodes only the Java types in the table's last column; any other object is
 * a {@link NotSerializableException}. {@link #lenient()} also encodes what Razorvine's pickler
 * knows: {@link java.math.BigDecimal} as {@code decimal.Decimal}, {@link Character} and {@code
 * char[]} as {@code str}, an enum constant as its name, {@link java.util.Date} and {@link
 * java.util.Calendar} as {@code datetime.datetime}, {@code boolean[]} as a tuple, other primitive
 * arrays as {@code array.array}, classes given a pickler with Razorvine's {@code
 * Pickler.registerCustomPickler}, and, last, any other {@link Serializable} object as a dict of
 * what its public getters return (they are called) plus {@code "__class__"}, its Java class name.
 *
 * <h2>Protocols</h2>
 *
 * <p>Decoding accepts protocols 0 to 5, as CPython writes them: {@code send} uses protocol 4 on
 * CPython 3.8 to 3.13 and 5 on 3.14. Refused: a protocol above 5, out-of-band buffers ({@code
 * NEXT_BUFFER}), persistent ids, and {@code copyreg} extension codes.
 *
 * <p>Encoding writes a protocol {@value #PROTOCOL} stream, which CPython 3.4 and newer read.
 * Razorvine's pickler itself writes protocol 2, with {@code byte[]} as a {@code bytearray} and sets
 * as a call to {@code __builtin__.set}; this codec writes the same opcodes, except that {@code
 * byte[]} becomes {@code bytes} (protocol 3's {@code BINBYTES}) and a set uses protocol 4's {@code
 * EMPTY_SET}/{@code ADDITEMS}, as CPython does. It writes no {@code FRAME}s (they are optional).
 *
 * <h2>Limits</h2>
 *
 * <p>Every decode is held to {@link DecodeLimits} ({@link #limits()}; defaults in its table, {@link
 * #limitedTo} changes them): each opcode is a step of work and each value pushed or memoized an
 * object; an {@code int} of more than 4,300 decimal digits (CPython's limit) is refused before it
 * is parsed, and so is a binary one ({@code LONG1}, {@code LONG4}) of more than 1,787 bytes; before
 * a value is hashed into a {@code set} or as a {@code dict} key, its elements are walked (Java
 * hashes lists, sets and dicts by their contents, recursively, where CPython refuses them or caches
 * the hash): a key that contains itself, nests deeper than the limit or costs more than the work
 * left is refused; and the result is walked once, without recursion, for its depth and its expanded
 * size, so exponential sharing through the memo ("billion laughs") is refused. A value that
 * contains itself is legal ({@code l = []; l.append(l)} arrives as an {@link java.util.ArrayList}
 * that holds itself, and goes back out as CPython pickles it), except as a set element or a dict
 * key. {@code decode} never throws an {@link Error}, on a thread of the default stack size or a
 * virtual thread.
 *
 * <h2>Errors</h2>
 *
 * <p>Encoding: an object that cannot be pickled, or nesting deeper than 1000 levels (Razorvine's
 * limit), is a {@link NotSerializableException}. Some bytes may have been written; {@code
 * Connection.send} then discards them and sends nothing.
 *
 * <p>Decoding: a message over a limit is a {@link DecodeLimitException} naming the limit. Every
 * other error is a {@link StreamCorruptedException}, with Razorvine's exception as the cause where
 * it has one: an empty message, a cut-short or malformed pickle, a length that runs past the end of
 * the message (refused before anything is allocated for it), and a valid pickle that Razorvine
 * cannot rebuild (a class instance whose reconstruction needs arguments, for one). None of them is
 * an {@link java.io.EOFException}, which jpipe keeps for a closed peer, and no Razorvine runtime
 * exception escapes. The message is consumed either way.
 *
 * <h2>Security</h2>
 *
 * <p>Unpickling with Razorvine runs no Python code and never loads or instantiates a Java class
 * named by the pickle. {@code GLOBAL}, {@code STACK_GLOBAL} and {@code INST} look the name up in
 * Razorvine's own table of constructors (the types above, {@code copy_reg._reconstructor}, {@code
 * operator.attrgetter}, {@code _codecs.encode}, and whatever code in this JVM added with {@code
 * Unpickler.registerConstructor}); a builtin exception name gets a {@code PythonException}, and any
 * other name a {@code ClassDict} constructor. {@code REDUCE}, {@code NEWOBJ} and {@code NEWOBJ_EX}
 * (without keyword arguments) call that constructor's {@code construct(args)}, after the same
 * checks (a set's elements are hashed within the limits, a {@code Decimal}'s digits counted); a
 * {@code ClassDict} takes no arguments, so reducing an unknown callable with arguments (the usual
 * {@code os.system} exploit) is an error, not a call. Two steps call a method found by reflection:
 * {@code BUILD} calls a public {@code __setstate__} of the object built so far, which only
 * Razorvine's {@code ClassDict}, {@code PythonException} and {@code Tzinfo} have, and reducing
 * {@code copy_reg._reconstructor} calls a public {@code reconstruct} of its first argument, which
 * only Razorvine's {@code TimeZoneConstructor} has. What a hostile pickle can still do, within the
 * limits: make objects in proportion to its size, and build a structure that contains itself, whose
 * {@code hashCode} or {@code toString} (outside jpipe) overflows the stack. Keys whose Java hashes
 * collide cost {@code maxWork} steps in proportion to the keys of the same hash already in the set
 * or dict, times their size: Java compares a key with every key of its bucket, so many distinct
 * keys of one hash (lists, frozensets, or keys of several types) would cost the square of their
 * number. Both registries, Razorvine's constructors and its custom picklers, are global to the JVM.
 *
 * <h2>Threads and processes</h2>
 *
 * <p>A codec is immutable and serves any number of threads at once: every call uses its own
 * Razorvine pickler or unpickler. It is {@link Serializable}, so it travels to child processes
 * (with {@code ChildProcess} arguments) and arrives as the same shared instance.
 */
public final class PickleCodec implements Codec, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** The pickle protocol this codec writes. */
  public static final int PROTOCOL = 4;

  /** The newest pickle protocol this codec reads. */
  public static final int HIGHEST_PROTOCOL = 5;

  static final String TOO_DEEP =
      "nested more than 1000 levels deep (or arrays that contain each other)";

  private static final PickleCodec STRICT = new PickleCodec(false, DecodeLimits.defaults());
  private static final PickleCodec LENIENT = new PickleCodec(true, DecodeLimits.defaults());

  /** Whether objects outside the table are pickled as Razorvine knows them. */
  private final boolean lenient;

  /** What one decode may cost. */
  private final transient DecodeLimits limits;

  private PickleCodec(boolean lenient, DecodeLimits limits) {
    this.lenient = lenient;
    this.limits = Objects.requireNonNull(limits, "limits");
  }

  /**
   * The pickle codec: encodes the Java types of the table, decodes whatever Razorvine decodes.
   *
   * @return the shared codec
   */
  public static PickleCodec create() {
    return STRICT;
  }

  /**
   * The pickle codec that also encodes every other Java object Razorvine's pickler knows, as the
   * class description lists. Decoding is the same as {@link #create()}'s.
   *
   * @return the shared lenient codec
   */
  public static PickleCodec lenient() {
    return LENIENT;
  }

  /**
   * This codec with other decoding limits.
   *
   * @param limits the limits
   * @return the codec
   */
  public PickleCodec limitedTo(DecodeLimits limits) {
    Objects.requireNonNull(limits, "limits");
    if (limits.equals(DecodeLimits.defaults())) {
      return lenient ? LENIENT : STRICT;
    }
    return new PickleCodec(lenient, limits);
  }

  /**
   * The limits every decode is held to.
   *
   * @return the limits
   */
  public DecodeLimits limits() {
    return limits;
  }

  /**
   * Pickles {@code value} into {@code out}, as a protocol {@value #PROTOCOL} stream.
   *
   * @param value the object; {@code null} is {@code None}
   * @param out where the pickle goes
   * @throws NotSerializableException if the object, or an object inside it, cannot be pickled, or
   *     it is nested more than 1000 levels deep
   * @throws IOException if {@code out} fails
   */
  @Override
  public void encode(Object value, OutputStream out) throws IOException {
    Objects.requireNonNull(out, "out");
    try {
      new CodecPickler(lenient).dump(value, out);
    } catch (PickleException e) {
      throw notSerializable(e.getMessage(), e);
    } catch (StackOverflowError e) { // Razorvine's depth limit, or a real overflow on the way to it
      throw notSerializable(TOO_DEEP, e);
    }
  }

  /**
   * Unpickles one message (protocols 0 to {@value #HIGHEST_PROTOCOL}).
   *
   * @param message the array holding the message
   * @param offset where the message starts
   * @param length the message's length in bytes
   * @return the decoded object
   * @throws DecodeLimitException if decoding would go over one of the {@link #limits()}
   * @throws StreamCorruptedException if the message is empty, not a whole valid pickle, or holds
   *     something Razorvine cannot rebuild
   */
  @Override
  public Object decode(byte[] message, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, message.length);
    if (length == 0) {
      throw new StreamCorruptedException(
          "empty message: it holds no pickle (was it sent with sendBytes?)");
    }
    try {
      return new CodecUnpickler(limits).unpickle(message, offset, length);
    } catch (StreamCorruptedException | DecodeLimitException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw corrupted("not a valid pickle (" + length + " bytes): " + e.getMessage(), e);
    } catch (StackOverflowError e) { // a last resort: the walks above do not recurse
      DecodeLimitException d =
          new DecodeLimitException("stack", -1, "the thread's stack ran out while decoding");
      d.initCause(e);
      throw d;
    } catch (OutOfMemoryError e) {
      DecodeLimitException d =
          new DecodeLimitException(
              "memory", Runtime.getRuntime().maxMemory(), "the heap ran out while decoding");
      d.initCause(e);
      throw d;
    }
  }

  private static NotSerializableException notSerializable(String message, Throwable cause) {
    NotSerializableException e = new NotSerializableException(message);
    e.initCause(cause);
    return e;
  }

  private static StreamCorruptedException corrupted(String message, Throwable cause) {
    StreamCorruptedException e = new StreamCorruptedException(message);
    e.initCause(cause);
    return e;
  }

  /**
   * Travels as {@code SerialForm}.
   *
   * @return the serial form
   */
  @Serial
  private Object writeReplace() {
    return new SerialForm(
        lenient,
        limits.maxDepth(),
        limits.maxObjects(),
        limits.maxArrayLength(),
        limits.maxIntDigits(),
        limits.maxWork());
  }

  /**
   * Refuses the default form.
   *
   * @param in unused
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("use the serial form");
  }

  /**
   * What travels to another process.
   *
   * @param lenient whether it is the {@link #lenient()} codec
   * @param maxDepth {@link DecodeLimits#maxDepth()}
   * @param maxObjects {@link DecodeLimits#maxObjects()}
   * @param maxArrayLength {@link DecodeLimits#maxArrayLength()}
   * @param maxIntDigits {@link DecodeLimits#maxIntDigits()}
   * @param maxWork {@link DecodeLimits#maxWork()}
   */
  private record SerialForm(
      boolean lenient,
      int maxDepth,
      long maxObjects,
      int maxArrayLength,
      int maxIntDigits,
      long maxWork)
      implements Serializable {
    @Serial
    private Object readResolve() throws InvalidObjectException {
      try {
        return (lenient ? LENIENT : STRICT)
            .limitedTo(
                new DecodeLimits(maxDepth, maxObjects, maxArrayLength, maxIntDigits, maxWork));
      } catch (IllegalArgumentException e) {
        throw new InvalidObjectException(e.getMessage());
      }
    }
  }

  @Override
  public String toString() {
    String name = lenient ? "PickleCodec[lenient" : "PickleCodec[";
    if (limits.equals(DecodeLimits.defaults())) {
      return lenient ? name + "]" : "PickleCodec";
    }
    return name + (lenient ? ", " : "") + limits + "]";
  }
}
