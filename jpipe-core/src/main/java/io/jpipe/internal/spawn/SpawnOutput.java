package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.internal.Access;
import io.jpipe.internal.shm.ShmEnd;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.util.Set;

/**
 * Java serialization of what a child receives that {@link BootstrapCodec} has no compact form for,
 * replacing each {@link Connection} and {@link ProcessLock} inside it with a placeholder that names
 * its index in the shared {@link Inheritance}, and noting every class it writes (the child's class
 * path must hold them all: {@link ChildJvm}).
 */
final class SpawnOutput extends ObjectOutputStream {
  private final Inheritance inheritance;
  private final Set<Class<?>> classes;

  SpawnOutput(OutputStream out, Inheritance inheritance, Set<Class<?>> classes) throws IOException {
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
    if (obj instanceof Connection c && c.isSharedMemory()) {
      ShmEnd end = Access.connections().shm(c);
      int index = inheritance.indexOf(c);
      return new Inherited.ShmConnection(
          index,
          inheritance.indexOfSegment(end),
          end.side(),
          c.isReadable(),
          c.isWritable(),
          (Serializable) c.codec());
    }
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
