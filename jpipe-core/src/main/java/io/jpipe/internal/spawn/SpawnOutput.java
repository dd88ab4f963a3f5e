package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.internal.Access;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serializable;

/**
 * Java serialization of what a child receives that {@link BootstrapCodec} has no compact form for,
 * replacing each {@link Connection} and {@link ProcessLock} inside it with a placeholder that names
 * its index in the shared {@link Inheritance}.
 */
final class SpawnOutput extends ObjectOutputStream {
  private final Inheritance inheritance;

  SpawnOutput(OutputStream out, Inheritance inheritance) throws IOException {
    super(out);
    this.inheritance = inheritance;
    enableReplaceObject(true);
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
