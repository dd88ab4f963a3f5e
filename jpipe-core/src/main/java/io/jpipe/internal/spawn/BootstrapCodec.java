package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * The bytes a child receives: a compact form for what nearly every child gets (a static-method
 * target, connection ends, locks, strings, numbers), and Java serialization only for the rest.
 * Decoding a whole {@code ObjectInputStream} graph costs a just-started JVM several milliseconds;
 * the compact form costs next to nothing.
 *
 * <pre>
 * int    MAGIC
 * UTF    name;  boolean daemon;  long parentPid
 * target: 1, UTF class, UTF method, UTF descriptor  |  2, serialized object
 * int    argc, then each argument:
 *   0 null | 1 connection: int index, byte kind, boolean readable, boolean writable, codec
 *          | 2 lock: int index | 3 string: int n, n UTF-8 bytes | 4 int | 5 long | 6 boolean
 *          | 7 double | 9 serialized object
 * codec:  0 (the default Java serialization codec) | 1, serialized codec
 * serialized object: int n, n bytes of Java serialization (Inheritance.Output: placeholders inside)
 * </pre>
 */
final class BootstrapCodec {
  private BootstrapCodec() {}

  private static final int MAGIC = 0x4a504231; // "JPB1"

  /** Encodes a bootstrap; connections and locks get their indexes in {@code inh}. */
  static byte[] encode(
      String name, boolean daemon, long parentPid, Object target, Object[] args, Inheritance inh)
      throws IOException {
    return encode(name, daemon, parentPid, target, args, inh, new HashSet<>());
  }

  /**
   * Encodes a bootstrap; connections and locks get their indexes in {@code inh}, and {@code
   * classes} gets the classes the child will load to decode and run it.
   */
  static byte[] encode(
      String name,
      boolean daemon,
      long parentPid,
      Object target,
      Object[] args,
      Inheritance inh,
      Set<Class<?>> classes)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(MAGIC);
    out.writeUTF(name);
    out.writeBoolean(daemon);
    out.writeLong(parentPid);
    classes.add(target.getClass()); // a lambda's class has its capturing class's loader
    Serializable described = Targets.describe((Serializable) target);
    if (described instanceof Targets.StaticMethod m) {
      out.writeByte(1);
      out.writeUTF(m.className);
      out.writeUTF(m.methodName);
      out.writeUTF(m.descriptor);
    } else {
      out.writeByte(2);
      try {
        serialized(out, described, inh, classes);
      } catch (NotSerializableException e) {
        throw Targets.notSerializable(target, e);
      }
    }
    out.writeInt(args.length);
    for (int i = 0; i < args.length; i++) {
      try {
        value(out, args[i], inh, classes);
      } catch (NotSerializableException e) {
        throw argumentNotSerializable(i, args[i], e);
      }
    }
    out.flush();
    return bytes.toByteArray();
  }

  /** Says which argument could not be serialized, and what inside it. */
  private static NotSerializableException argumentNotSerializable(
      int index, Object arg, NotSerializableException e) {
    String type = arg.getClass().getName();
    String offending = String.valueOf(e.getMessage()); // a class name, or a sentence of jpipe's
    String why =
        type.equals(offending)
            ? type + " is not Serializable"
            : offending.contains(" ")
                ? offending
                : "it holds an instance of " + offending + ", which is not Serializable";
    NotSerializableException n =
        new NotSerializableException(
            "argument " + (index + 1) + " (" + type + ") cannot be sent to the child: " + why);
    n.initCause(e);
    return n;
  }

  private static void value(DataOutputStream out, Object a, Inheritance inh, Set<Class<?>> classes)
      throws IOException {
    switch (a) {
      case null -> out.writeByte(0);
      case Connection c -> {
        int index = inh.indexOf(c);
        out.writeByte(1);
        out.writeInt(index);
        out.writeByte(Access.connections().channel(c).kind().ordinal());
        out.writeBoolean(c.isReadable());
        out.writeBoolean(c.isWritable());
        if (c.codec() == Codec.javaSerialization()) {
          out.writeByte(0);
        } else {
          out.writeByte(1);
          serialized(out, c.codec(), inh, classes);
        }
      }
      case ProcessLock l -> {
        out.writeByte(2);
        out.writeInt(inh.indexOf(l));
      }
      case String s -> {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        if (!new String(utf8, StandardCharsets.UTF_8).equals(s)) { // a lone surrogate
          out.writeByte(9);
          serialized(out, s, inh, classes);
        } else {
          out.writeByte(3);
          out.writeInt(utf8.length);
          out.write(utf8);
        }
      }
      case Integer i -> {
        out.writeByte(4);
        out.writeInt(i);
      }
      case Long l -> {
        out.writeByte(5);
        out.writeLong(l);
      }
      case Boolean b -> {
        out.writeByte(6);
        out.writeBoolean(b);
      }
      case Double d -> {
        out.writeByte(7);
        out.writeDouble(d);
      }
      default -> {
        out.writeByte(9);
        serialized(out, a, inh, classes);
      }
    }
  }

  private static void serialized(
      DataOutputStream out, Object o, Inheritance inh, Set<Class<?>> classes) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (Inheritance.Output s = new Inheritance.Output(bytes, inh, classes)) {
      s.writeObject(o);
    }
    out.writeInt(bytes.size());
    bytes.writeTo(out);
  }

  /** Decodes a bootstrap, reviving connections and locks on {@code revival}'s descriptors. */
  static Bootstrap decode(byte[] bytes, Revival revival)
      throws IOException, ClassNotFoundException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
    if (in.readInt() != MAGIC) {
      throw new InvalidObjectException("not a jpipe bootstrap");
    }
    String name = in.readUTF();
    boolean daemon = in.readBoolean();
    long parentPid = in.readLong();
    Object target =
        switch (in.readByte()) {
          case 1 -> new Targets.StaticMethod(in.readUTF(), in.readUTF(), in.readUTF());
          case 2 -> serialized(in, revival);
          default -> throw new InvalidObjectException("bad target kind");
        };
    int argc = in.readInt();
    if (argc < 0 || argc > 4) {
      throw new InvalidObjectException("bad argument count " + argc);
    }
    Object[] args = new Object[argc];
    for (int i = 0; i < argc; i++) {
      args[i] = value(in, revival);
    }
    return new Bootstrap(name, daemon, parentPid, target, args);
  }

  private static Object value(DataInputStream in, Revival revival)
      throws IOException, ClassNotFoundException {
    int tag = in.readByte();
    return switch (tag) {
      case 0 -> null;
      case 1 -> {
        int index = in.readInt();
        FdChannel.Kind kind = FdChannel.Kind.values()[in.readByte()];
        boolean readable = in.readBoolean();
        boolean writable = in.readBoolean();
        Codec codec =
            in.readByte() == 0 ? Codec.javaSerialization() : (Codec) serialized(in, revival);
        yield revival.connection(index, kind, readable, writable, codec);
      }
      case 2 -> revival.lock(in.readInt());
      case 3 -> {
        byte[] utf8 = new byte[in.readInt()];
        in.readFully(utf8);
        yield new String(utf8, StandardCharsets.UTF_8);
      }
      case 4 -> in.readInt();
      case 5 -> in.readLong();
      case 6 -> in.readBoolean();
      case 7 -> in.readDouble();
      case 9 -> serialized(in, revival);
      default -> throw new InvalidObjectException("bad argument tag " + tag);
    };
  }

  private static Object serialized(DataInputStream in, Revival revival)
      throws IOException, ClassNotFoundException {
    byte[] bytes = new byte[in.readInt()];
    in.readFully(bytes);
    try (Revival.Input s = new Revival.Input(new ByteArrayInputStream(bytes), revival)) {
      return s.readObject();
    }
  }

  /**
   * What a child JVM needs to become the child, as {@link BootstrapCodec} reads it.
   *
   * @param name the process name
   * @param daemon whether the child dies with its parent
   * @param parentPid the parent's pid, for the daemon child's watch
   * @param target the task: a {@link Targets.StaticMethod} or a functional interface
   * @param args the task's arguments, connections and locks among them live
   */
  record Bootstrap(String name, boolean daemon, long parentPid, Object target, Object[] args) {}
}
