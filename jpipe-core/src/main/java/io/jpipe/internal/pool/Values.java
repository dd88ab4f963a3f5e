package io.jpipe.internal.pool;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.util.ArrayList;
import java.util.List;

/**
 * The pool's encoding of arguments and results: {@code null}, {@link Integer}, {@link Long}, {@link
 * Double}, {@link Boolean}, {@link String}, {@code byte[]} and {@link ArrayList}s of values in a
 * compact form of their own; anything else by Java serialization. An {@link ArrayList} of only
 * {@link Integer}s (or only {@link Long}s), the arguments and results of a typical {@code map}
 * chunk, travels as a packed array: one tag, a count and the numbers, with no tag per element.
 */
final class Values {
  static final int NULL = 0;
  static final int INT = 1;
  static final int LONG = 2;
  static final int DOUBLE = 3;
  static final int STRING = 4;
  static final int BYTES = 5;
  static final int TRUE = 6;
  static final int FALSE = 7;
  static final int LIST = 8;
  static final int JAVA = 9;
  static final int INTS = 10;
  static final int LONGS = 11;

  private Values() {}

  /**
   * Writes {@code v}.
   *
   * @throws IOException if Java serialization of {@code v} (or of an element) fails; {@code out} is
   *     then left with part of it
   */
  static void write(WireOut out, Object v) throws IOException {
    switch (v) {
      case null -> out.writeByte(NULL);
      case Integer i -> {
        out.writeByte(INT);
        out.writeInt(i);
      }
      case Long l -> {
        out.writeByte(LONG);
        out.writeLong(l);
      }
      case Double d -> {
        out.writeByte(DOUBLE);
        out.writeLong(Double.doubleToRawLongBits(d));
      }
      case String s when wellFormed(s) -> {
        out.writeByte(STRING);
        out.writeString(s);
      }
      case byte[] b -> {
        out.writeByte(BYTES);
        out.writeBlob(b);
      }
      case Boolean b -> out.writeByte(b ? TRUE : FALSE);
      default -> {
        if (v.getClass() == ArrayList.class) {
          writeList(out, (List<?>) v);
        } else {
          out.writeByte(JAVA);
          out.writeBlob(serialize(v));
        }
      }
    }
  }

  private static void writeList(WireOut out, List<?> list) throws IOException {
    int n = list.size();
    switch (packable(list, n)) {
      case INTS -> writeInts(out, list, n);
      case LONGS -> writeLongs(out, list, n);
      default -> {
        out.writeByte(LIST);
        out.writeInt(n);
        for (int i = 0; i < n; i++) {
          write(out, list.get(i));
        }
      }
    }
  }

  // The packed forms' loops are methods of their own: a chunk's elements run through them, and the
  // JIT compiles them on their own, whatever else the callers have been used for.

  private static void writeInts(WireOut out, List<?> list, int n) {
    out.writeByte(INTS);
    out.writeInt(n);
    out.ensure(4L * n);
    for (int i = 0; i < n; i++) {
      out.writeIntUnchecked((Integer) list.get(i));
    }
  }

  private static void writeLongs(WireOut out, List<?> list, int n) {
    out.writeByte(LONGS);
    out.writeInt(n);
    out.ensure(8L * n);
    for (int i = 0; i < n; i++) {
      out.writeLongUnchecked((Long) list.get(i));
    }
  }

  private static ArrayList<Object> readInts(WireIn in) throws IOException {
    int n = in.readInt();
    in.need(n, 4);
    ArrayList<Object> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(in.readIntUnchecked());
    }
    return list;
  }

  private static ArrayList<Object> readLongs(WireIn in) throws IOException {
    int n = in.readInt();
    in.need(n, 8);
    ArrayList<Object> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(in.readLongUnchecked());
    }
    return list;
  }

  /**
   * {@link #INTS} if the first {@code n} elements of {@code list} are all {@link Integer}s, {@link
   * #LONGS} if all {@link Long}s, else {@link #LIST} (also for an empty list).
   */
  private static int packable(List<?> list, int n) {
    if (n == 0) {
      return LIST;
    }
    Class<?> type = list.get(0) == null ? null : list.get(0).getClass();
    if (type != Integer.class && type != Long.class) {
      return LIST;
    }
    for (int i = 1; i < n; i++) {
      Object e = list.get(i);
      if (e == null || e.getClass() != type) {
        return LIST;
      }
    }
    return type == Integer.class ? INTS : LONGS;
  }

  /**
   * Whether UTF-8 can carry {@code s}: no unpaired surrogate (Java serialization carries those).
   */
  private static boolean wellFormed(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return false;
      }
    }
    return true;
  }

  /** Reads a value, resolving serialized classes with {@code loader} (null: the default). */
  static Object read(WireIn in, ClassLoader loader) throws IOException, ClassNotFoundException {
    int tag = in.readByte();
    return switch (tag) {
      case NULL -> null;
      case INT -> in.readInt();
      case LONG -> in.readLong();
      case DOUBLE -> Double.longBitsToDouble(in.readLong());
      case STRING -> in.readString();
      case BYTES -> in.readBlob();
      case TRUE -> Boolean.TRUE;
      case FALSE -> Boolean.FALSE;
      case LIST -> {
        int n = in.readInt();
        if (n < 0) {
          throw new java.io.StreamCorruptedException("negative list size");
        }
        ArrayList<Object> list = new ArrayList<>(Math.min(n, 1 << 16));
        for (int i = 0; i < n; i++) {
          list.add(read(in, loader));
        }
        yield list;
      }
      case INTS -> readInts(in);
      case LONGS -> readLongs(in);
      case JAVA -> {
        int len = in.readInt();
        int at = in.skip(len);
        yield deserialize(in.array(), at, len, loader);
      }
      default -> throw new java.io.StreamCorruptedException("bad value tag " + tag);
    };
  }

  static byte[] serialize(Object o) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
    }
    return bytes.toByteArray();
  }

  static Object deserialize(byte[] b, int off, int len, ClassLoader loader)
      throws IOException, ClassNotFoundException {
    try (ObjectInputStream in = new LoaderInput(new ByteArrayInputStream(b, off, len), loader)) {
      return in.readObject();
    }
  }

  /** Resolves classes with a given loader first (the submitter's), then as Java does. */
  private static final class LoaderInput extends ObjectInputStream {
    private final ClassLoader loader;

    LoaderInput(InputStream in, ClassLoader loader) throws IOException {
      super(in);
      this.loader = loader;
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc)
        throws IOException, ClassNotFoundException {
      if (loader != null) {
        try {
          return Class.forName(desc.getName(), false, loader);
        } catch (ClassNotFoundException e) {
          // fall through to the default resolution
        }
      }
      return super.resolveClass(desc);
    }
  }
}
