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
 * compact form of their own; anything else by Java serialization.
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
          List<?> list = (List<?>) v;
          out.writeByte(LIST);
          int n = list.size();
          out.writeInt(n);
          for (int i = 0; i < n; i++) {
            write(out, list.get(i));
          }
        } else {
          out.writeByte(JAVA);
          out.writeBlob(serialize(v));
        }
      }
    }
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
