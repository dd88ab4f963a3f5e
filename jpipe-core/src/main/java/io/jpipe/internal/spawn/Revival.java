package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.sync.SharedMutex;
import java.io.IOException;
import java.io.InputStream;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.util.HashMap;
import java.util.Map;

/**
 * The child's side of {@link Inheritance}: the inherited descriptors by index, each made a live
 * connection end or lock once (the same object however often it appears).
 */
final class Revival {
  private final int[] fds;
  private final Map<Integer, Object> live = new HashMap<>();

  Revival(int[] fds) {
    this.fds = fds.clone();
  }

  private int fd(int index) throws InvalidObjectException {
    if (index < 0 || index >= fds.length) {
      throw new InvalidObjectException("no inherited descriptor #" + index);
    }
    return fds[index];
  }

  Connection connection(
      int index, FdChannel.Kind kind, boolean readable, boolean writable, Codec codec)
      throws IOException {
    Object o = live.get(index);
    if (o == null) {
      o =
          Access.connections()
              .newConnection(new FdChannel(fd(index), kind), readable, writable, codec);
      live.put(index, o);
    }
    if (!(o instanceof Connection c)) {
      throw new InvalidObjectException("descriptor #" + index + " is not a connection");
    }
    return c;
  }

  ProcessLock lock(int index) throws IOException {
    Object o = live.get(index);
    if (o == null) {
      o = Access.locks().wrap(SharedMutex.attach(fd(index)));
      live.put(index, o);
    }
    if (!(o instanceof ProcessLock l)) {
      throw new InvalidObjectException("descriptor #" + index + " is not a lock");
    }
    return l;
  }

  /**
   * Reads what {@link Inheritance.Output} wrote, turning each placeholder back into the live
   * connection end or lock on the descriptor the child inherited.
   */
  static final class Input extends ObjectInputStream {
    private final Revival revival;

    Input(InputStream in, Revival revival) throws IOException {
      super(in);
      this.revival = revival;
      enableResolveObject(true);
    }

    @Override
    protected Object resolveObject(Object obj) throws IOException {
      return switch (obj) {
        case Inheritance.Inherited.Connection c ->
            revival.connection(c.index, c.kind, c.readable, c.writable, (Codec) c.codec);
        case Inheritance.Inherited.Lock l -> revival.lock(l.index);
        default -> obj;
      };
    }
  }
}
