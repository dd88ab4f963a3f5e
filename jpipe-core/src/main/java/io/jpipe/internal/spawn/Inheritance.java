package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parent's side of handing connections and locks to a child: each distinct one gets the next
 * index, and its descriptor is what the child inherits at that index (CPython's spawning pickler
 * does the same with {@code DupFd}). Each channel is {@linkplain FdChannel#acquire() acquired}, so
 * it cannot be closed before the child has its copy; {@link #releaseAll} ends that.
 */
final class Inheritance {
  private final Map<Object, Integer> indexes = new IdentityHashMap<>();
  private final List<FdChannel> channels = new ArrayList<>();

  /** The index of a connection end, adding it on first sight. */
  int indexOf(Connection c) throws IOException {
    Integer known = indexes.get(c);
    if (known != null) {
      return known;
    }
    if (!(c.codec() instanceof Serializable)) {
      throw new NotSerializableException(
          "the codec of "
              + c
              + " ("
              + c.codec().getClass().getName()
              + ") is not Serializable, so the connection cannot go to a child process");
    }
    return add(c, Access.connections().channel(c));
  }

  /** The index of a lock, adding it on first sight. */
  int indexOf(ProcessLock l) throws IOException {
    Integer known = indexes.get(l);
    return known != null ? known : add(l, Access.locks().mutex(l).channel());
  }

  private int add(Object o, FdChannel ch) throws IOException {
    ch.acquire(); // ClosedChannelException for a closed end
    int i = channels.size();
    channels.add(ch);
    indexes.put(o, i);
    return i;
  }

  /** The descriptors to hand to the child, by index. */
  int[] fds() {
    return channels.stream().mapToInt(FdChannel::fd).toArray();
  }

  /** Ends the use of every channel. */
  void releaseAll() {
    channels.forEach(FdChannel::release);
    channels.clear();
    indexes.clear();
  }

  /**
   * What a connection end or a lock becomes on its way to a child: the index of its descriptor
   * among those the child inherits, and what is needed to rebuild it there. Plain classes, not
   * records: records deserialize through method handles that are slow to build in a fresh JVM.
   */
  abstract static sealed class Inherited implements Serializable
      permits Inherited.Connection, Inherited.Lock {
    @Serial private static final long serialVersionUID = 1L;

    /** The descriptor's index among the inherited ones. */
    final int index;

    Inherited(int index) {
      this.index = index;
    }

    /** A connection end. */
    static final class Connection extends Inherited {
      @Serial private static final long serialVersionUID = 1L;

      /** Socket or pipe. */
      final FdChannel.Kind kind;

      /** Whether it receives. */
      final boolean readable;

      /** Whether it sends. */
      final boolean writable;

      /** Its codec (Serializable). */
      final Serializable codec;

      Connection(
          int index, FdChannel.Kind kind, boolean readable, boolean writable, Serializable codec) {
        super(index);
        this.kind = kind;
        this.readable = readable;
        this.writable = writable;
        this.codec = codec;
      }
    }

    /** A process lock. */
    static final class Lock extends Inherited {
      @Serial private static final long serialVersionUID = 1L;

      Lock(int index) {
        super(index);
      }
    }
  }

  /**
   * Java serialization of what a child receives that {@link BootstrapCodec} has no compact form
   * for, replacing each {@link Connection} and {@link ProcessLock} inside it with a placeholder
   * that names its index in the shared {@link Inheritance}, and noting every class it writes (the
   * child's class path must hold them all: {@link ChildJvm}).
   */
  static final class Output extends ObjectOutputStream {
    private final Inheritance inheritance;
    private final Set<Class<?>> classes;

    Output(OutputStream out, Inheritance inheritance, Set<Class<?>> classes) throws IOException {
      super(out);
      this.inheritance = inheritance;
      this.classes = classes;
      enableReplaceObject(true);
    }

    /** Notes each class written: the child must be able to load it. */
    @Override
    protected void annotateClass(Class<?> cl) {
      classes.add(cl);
    }

    @Override
    protected void annotateProxyClass(Class<?> cl) {
      classes.add(cl);
    }

    @Override
    protected Object replaceObject(Object obj) throws IOException {
      if (obj instanceof Connection c) {
        int index = inheritance.indexOf(c);
        return new Inherited.Connection(
            index,
            Access.connections().channel(c).kind(),
            c.isReadable(),
            c.isWritable(),
            (Serializable) c.codec());
      }
      if (obj instanceof ProcessLock l) {
        return new Inherited.Lock(inheritance.indexOf(l));
      }
      return obj;
    }
  }
}
