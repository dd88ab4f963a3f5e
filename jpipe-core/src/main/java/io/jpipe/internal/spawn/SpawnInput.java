package io.jpipe.internal.spawn;

import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.sync.SharedMutex;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads a bootstrap in the child, turning each placeholder back into a live {@link
 * io.jpipe.Connection} or {@link io.jpipe.ProcessLock} on the descriptor the child inherited.
 */
final class SpawnInput extends ObjectInputStream {
  private final int[] fds;
  private final Map<Integer, Object> live = new HashMap<>();

  /**
   * A reader for a bootstrap whose placeholders refer to {@code fds}.
   *
   * @param in the serialized bootstrap
   * @param fds the inherited descriptors, in placeholder order
   */
  SpawnInput(InputStream in, int[] fds) throws IOException {
    super(in);
    this.fds = fds.clone();
    enableResolveObject(true);
  }

  @Override
  protected Object resolveObject(Object obj) throws IOException {
    if (obj instanceof Inherited inherited) {
      try {
        return live.computeIfAbsent(inherited.index(), i -> revive(inherited));
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
    }
    return obj;
  }

  private Object revive(Inherited inherited) {
    if (inherited.index() < 0 || inherited.index() >= fds.length) {
      throw new UncheckedIOException(
          new java.io.InvalidObjectException("no inherited descriptor #" + inherited.index()));
    }
    int fd = fds[inherited.index()];
    return switch (inherited) {
      case Inherited.Connection c ->
          Access.connections()
              .newConnection(
                  new FdChannel(fd, c.kind()), c.readable(), c.writable(), (Codec) c.codec());
      case Inherited.Lock l -> {
        try {
          yield Access.locks().wrap(SharedMutex.attach(fd));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    };
  }
}
