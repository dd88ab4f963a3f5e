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

  @Override
  public void encode(Object value, OutputStream out) throws IOException {
    ObjectOutputStream oos = new ObjectOutputStream(out);
    oos.writeObject(value);
    oos.flush();
  }

  @Override
  public Object decode(byte[] message, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, message.length);
    if (length == 0) {
      throw new StreamCorruptedException(
          "empty message: it holds no encoded object (was it sent with sendBytes?)");
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

  /**
   * What travels to another process.
   *
   * @param maxDepth deepest nesting
   * @param maxReferences most references
   * @param filter the user's filter, or null
   */
  private record SerialForm(long maxDepth, long maxReferences, Serializable filter)
      implements Serializable {
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
