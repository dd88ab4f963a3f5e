package io.jpipe.codec;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Java serialization, the JVM's pickle, always behind an {@link ObjectInputFilter}.
 *
 * <p>Every decode is limited: object graph depth, number of references, and array length, which can
 * never exceed the message's own length (so a small hostile message cannot make the receiver
 * allocate a huge array). An optional filter of your own is applied as well, and so is the JVM-wide
 * filter ({@code -Djdk.serialFilter=...}): a class any of them rejects is refused with {@link
 * InvalidClassException}. Classes are otherwise allowed, as pickle allows any class: a pipe
 * connects processes that trust each other. Over {@code Listener}/{@code Client}, nothing is
 * decoded before authentication succeeds.
 *
 * <p>Decoding errors are {@link IOException}s that never look like end of file: an empty or cut-off
 * encoding is a {@link StreamCorruptedException}, an unknown class an {@link
 * InvalidClassException}.
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

  /** Default deepest nesting of objects. */
  public static final long DEFAULT_MAX_DEPTH = 1_000;

  /** Default most object references in one message. */
  public static final long DEFAULT_MAX_REFERENCES = 10_000_000;

  static final JavaSerializationCodec DEFAULT =
      new JavaSerializationCodec(DEFAULT_MAX_DEPTH, DEFAULT_MAX_REFERENCES, null);

  /** Deepest nesting. */
  private final long maxDepth;

  /** Most references. */
  private final long maxReferences;

  private final transient ObjectInputFilter userFilter;

  private JavaSerializationCodec(long maxDepth, long maxReferences, ObjectInputFilter userFilter) {
    this.maxDepth = maxDepth;
    this.maxReferences = maxReferences;
    this.userFilter = userFilter;
  }

  /**
   * A codec with the default limits and your filter as well.
   *
   * @param filter consulted for every class and limit check; its REJECTED always wins
   * @return the codec
   */
  public static JavaSerializationCodec withFilter(ObjectInputFilter filter) {
    return new JavaSerializationCodec(
        DEFAULT_MAX_DEPTH, DEFAULT_MAX_REFERENCES, Objects.requireNonNull(filter, "filter"));
  }

  /**
   * A codec with other limits.
   *
   * @param maxDepth deepest nesting of objects, at least 1
   * @param maxReferences most object references in one message, at least 1
   * @return the codec
   */
  public static JavaSerializationCodec withLimits(long maxDepth, long maxReferences) {
    if (maxDepth < 1 || maxReferences < 1) {
      throw new IllegalArgumentException(
          "limits must be positive: maxDepth=" + maxDepth + ", maxReferences=" + maxReferences);
    }
    return new JavaSerializationCodec(maxDepth, maxReferences, null);
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
        ObjectOutputStream oos = new ObjectOutputStream(out);
        oos.writeObject(value);
        oos.flush();
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
    if (v != null && (userFilter != null || ObjectInputFilter.Config.getSerialFilter() != null)) {
      ObjectInputFilter.Status status =
          filterFor(length).checkInput(new Info(v.getClass(), length));
      if (status == ObjectInputFilter.Status.REJECTED) {
        throw new InvalidClassException(v.getClass().getName(), "filter status: REJECTED");
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
    ObjectInputFilter filter = filterFor(length);
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(message, offset, length))) {
      in.setObjectInputFilter(filter);
      return in.readObject();
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
    }
  }

  private ObjectInputFilter filterFor(long messageLength) {
    long depth = maxDepth;
    long refs = maxReferences;
    ObjectInputFilter limits =
        info -> {
          if (info.depth() > depth || info.references() > refs) {
            return ObjectInputFilter.Status.REJECTED;
          }
          if (info.arrayLength() >= 0 && info.arrayLength() > messageLength) {
            return ObjectInputFilter.Status.REJECTED;
          }
          return ObjectInputFilter.Status.UNDECIDED;
        };
    ObjectInputFilter f = limits;
    if (userFilter != null) {
      f = ObjectInputFilter.merge(userFilter, f);
    }
    ObjectInputFilter global = ObjectInputFilter.Config.getSerialFilter();
    if (global != null) {
      f = ObjectInputFilter.merge(global, f);
    }
    return f;
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
    return new SerialForm(maxDepth, maxReferences, (Serializable) userFilter);
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
    @Serial private static final long serialVersionUID = 1L;

    /** Deepest nesting. */
    private final long maxDepth;

    /** Most references. */
    private final long maxReferences;

    /** The user's filter, or null. */
    private final Serializable filter;

    SerialForm(long maxDepth, long maxReferences, Serializable filter) {
      this.maxDepth = maxDepth;
      this.maxReferences = maxReferences;
      this.filter = filter;
    }

    /**
     * The codec this stands for.
     *
     * @return the shared default, or a codec with these limits and filter
     */
    @Serial
    private Object readResolve() {
      if (filter == null
          && maxDepth == DEFAULT_MAX_DEPTH
          && maxReferences == DEFAULT_MAX_REFERENCES) {
        return DEFAULT;
      }
      return new JavaSerializationCodec(maxDepth, maxReferences, (ObjectInputFilter) filter);
    }
  }

  @Override
  public String toString() {
    return "JavaSerializationCodec[maxDepth="
        + maxDepth
        + ", maxReferences="
        + maxReferences
        + (userFilter != null ? ", filter=" + userFilter : "")
        + "]";
  }
}
