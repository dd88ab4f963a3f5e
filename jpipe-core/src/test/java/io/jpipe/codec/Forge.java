package io.jpipe.codec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.ObjectStreamField;
import java.io.OutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes hostile streams with the real {@link ObjectOutputStream}: stand-in classes lay out their
 * data as a JDK collection does, and their class descriptions are written as that collection's, so
 * the stream is exactly what the JDK class would write, in an order no honest instance holds (keys
 * that collide, which the sender never had to hash).
 */
final class Forge extends ObjectOutputStream {
  private static final Map<Class<?>, ObjectStreamClass> AS =
      Map.of(
          ForgedHashSet.class, ObjectStreamClass.lookup(java.util.HashSet.class),
          ForgedHashMap.class, ObjectStreamClass.lookup(java.util.HashMap.class),
          ForgedHashtable.class, ObjectStreamClass.lookup(java.util.Hashtable.class),
          ForgedCollSer.class, ObjectStreamClass.lookup(collSer()),
          ForgedBigInteger.class, ObjectStreamClass.lookup(java.math.BigInteger.class),
          ForgedUnmodifiableCollection.class,
              ObjectStreamClass.lookup(jdk("java.util.Collections$UnmodifiableCollection")),
          ForgedUnmodifiableSet.class,
              ObjectStreamClass.lookup(jdk("java.util.Collections$UnmodifiableSet")),
          ForgedArrayList.class, ObjectStreamClass.lookup(java.util.ArrayList.class));

  /** Class descriptions written with other flags than their classes' (primitive fields only). */
  private final Map<Class<?>, Integer> flags;

  private Forge(OutputStream out, Map<Class<?>, Integer> flags) throws IOException {
    super(out);
    this.flags = flags;
  }

  private static Class<?> collSer() {
    return jdk("java.util.CollSer");
  }

  private static Class<?> jdk(String name) {
    try {
      return Class.forName(name);
    } catch (ClassNotFoundException e) {
      throw new AssertionError(e);
    }
  }

  @Override
  protected void writeClassDescriptor(ObjectStreamClass desc) throws IOException {
    Integer forged = flags.get(desc.forClass());
    if (forged != null) {
      writeUTF(desc.getName());
      writeLong(desc.getSerialVersionUID());
      writeByte(forged);
      writeShort(desc.getFields().length);
      for (ObjectStreamField f : desc.getFields()) {
        if (!f.isPrimitive()) {
          throw new IllegalArgumentException("only primitive fields: " + f);
        }
        writeByte(f.getTypeCode());
        writeUTF(f.getName());
      }
      return;
    }
    ObjectStreamClass real = AS.get(desc.forClass());
    super.writeClassDescriptor(real != null ? real : desc);
  }

  /** The stream of {@code value}, stand-ins written as the classes they stand for. */
  static byte[] stream(Object value) throws IOException {
    return stream(value, Map.of());
  }

  /**
   * The stream of {@code value}, stand-ins written as the classes they stand for, and the classes
   * of {@code flags} described with those flags ({@code java.io.ObjectStreamConstants.SC_*}).
   */
  static byte[] stream(Object value, Map<Class<?>, Integer> flags) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (Forge out = new Forge(bytes, flags)) {
      out.writeObject(value);
    }
    return bytes.toByteArray();
  }

  /** Written as a {@code java.util.HashSet} holding {@code elements} in this order. */
  static final class ForgedHashSet implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    private final transient List<?> elements;
    private final transient float loadFactor;

    ForgedHashSet(List<?> elements) {
      this(elements, 0.75f);
    }

    ForgedHashSet(List<?> elements, float loadFactor) {
      this.elements = elements;
      this.loadFactor = loadFactor;
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(16);
      out.writeFloat(loadFactor);
      out.writeInt(elements.size());
      for (Object e : elements) {
        out.writeObject(e);
      }
    }
  }

  /** Written as a {@code java.util.HashMap} with these keys (each mapped to itself). */
  static final class ForgedHashMap implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    // java.util.HashMap's serial fields
    private final int threshold = 12;
    private final float loadFactor = 0.75f;
    private final transient List<?> keys;

    ForgedHashMap(List<?> keys) {
      this.keys = keys;
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(16);
      out.writeInt(keys.size());
      for (Object k : keys) {
        out.writeObject(k);
        out.writeObject(k);
      }
    }
  }

  /** Written as a {@code java.util.Hashtable} of one bucket with these keys. */
  static final class ForgedHashtable implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    // java.util.Hashtable's serial fields
    private final int threshold = 1;
    private final float loadFactor = 0.75f;
    private final transient List<?> keys;

    ForgedHashtable(List<?> keys) {
      this.keys = keys;
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(1); // the table's length: one chain holds every key
      out.writeInt(keys.size());
      for (Object k : keys) {
        out.writeObject(k);
        out.writeObject(k);
      }
    }
  }

  /** Written as a {@code java.math.BigInteger} of this magnitude (which may be shared). */
  static final class ForgedBigInteger implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    // java.math.BigInteger's serial fields
    private final int bitCount = -1;
    private final int bitLength = -1;
    private final int firstNonzeroByteNum = -2;
    private final int lowestSetBit = -2;
    private final int signum = 1;
    private final byte[] magnitude;

    ForgedBigInteger(byte[] magnitude) {
      this.magnitude = magnitude;
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
    }
  }

  /**
   * Written as a {@code java.util.ArrayList} of these elements, followed by more objects, which
   * ArrayList's readObject reads past its size and drops.
   */
  static final class ForgedArrayList implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    private final int size; // java.util.ArrayList's serial field
    private final transient List<?> elements;
    private final transient List<?> dropped;

    ForgedArrayList(List<?> elements, List<?> dropped) {
      this.size = elements.size();
      this.elements = elements;
      this.dropped = dropped;
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(size);
      for (Object e : elements) {
        out.writeObject(e);
      }
      for (Object e : dropped) {
        out.writeObject(e);
      }
    }
  }

  /** Written as {@code Collections.UnmodifiableCollection}'s part of an object. */
  static class ForgedUnmodifiableCollection implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    private final Serializable c; // the class's one serial field

    ForgedUnmodifiableCollection(Serializable c) {
      this.c = c;
    }
  }

  /**
   * A class between the two, outside {@code UnmodifiableSet}'s hierarchy: ObjectInputStream reads
   * its field and drops it.
   */
  static class Decoy extends ForgedUnmodifiableCollection {
    @Serial private static final long serialVersionUID = 1L;
    private final Serializable c;

    Decoy(Serializable c, Serializable decoy) {
      super(c);
      this.c = decoy;
    }
  }

  /** Written as {@code Collections.unmodifiableSet(c)}, with a decoy {@code c} in its chain. */
  static final class ForgedUnmodifiableSet extends Decoy {
    @Serial private static final long serialVersionUID = 1L;

    ForgedUnmodifiableSet(Serializable c, Serializable decoy) {
      super(c, decoy);
    }
  }

  /**
   * Written as the serial proxy of {@code List.of} (tag 1), {@code Set.of} (2) or {@code Map.of}
   * (3).
   */
  static final class ForgedCollSer implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    // java.util.CollSer's serial field
    private final int tag;
    private final transient Object[] array;
    private final transient Object[] dropped;

    ForgedCollSer(int tag, Object... array) {
      this(tag, array, new Object[0]);
    }

    /** With objects after the array's, which CollSer's readObject drops. */
    ForgedCollSer(int tag, Object[] array, Object[] dropped) {
      this.tag = tag;
      this.array = Arrays.copyOf(array, array.length);
      this.dropped = Arrays.copyOf(dropped, dropped.length);
    }

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      out.writeInt(array.length);
      for (Object e : array) {
        out.writeObject(e);
      }
      for (Object e : dropped) {
        out.writeObject(e);
      }
    }
  }
}
